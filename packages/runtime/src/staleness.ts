// Pure and free of ONNX Runtime, so the agent decides whether to re-profile without loading it.
import type { DeviceProfile } from "./profile";

export type StaleReason = "missing" | "agent-version" | "threads" | "simulated-class" | "age";

/**
 * Why a stored profile no longer describes this agent, or undefined when it still does. The
 * agent re-profiles on start when this says so, and on the control plane's request regardless.
 */
export function profileStaleness(
  stored:
    | Pick<DeviceProfile, "agentVersion" | "threads" | "deviceClass" | "measuredAt">
    | undefined,
  current: { agentVersion: string; threads: number; simulatedClass?: string; now: number },
  maxAgeMs = Number.POSITIVE_INFINITY,
): StaleReason | undefined {
  if (!stored) return "missing";
  if (stored.agentVersion !== current.agentVersion) return "agent-version";
  if (stored.threads !== current.threads) return "threads";
  if (stored.deviceClass !== (current.simulatedClass ?? "")) return "simulated-class";
  if (current.now - Date.parse(stored.measuredAt) > maxAgeMs) return "age";
  return undefined;
}
