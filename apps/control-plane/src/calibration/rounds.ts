// Pure decisions of a federated calibration run: how a device's attempt at a round ends up in
// its record, and whether a round gathered enough devices to go on.
import type { CalibrationDeviceView } from "@edgefleet/protocol";

export type RoundAttempt =
  | { ok: true; samples: number; bytes: number }
  | { ok: false; reason: string; bytes?: number };

export function recordAttempt(
  d: CalibrationDeviceView,
  round: 1 | 2,
  a: RoundAttempt,
): CalibrationDeviceView {
  const bytesSent = d.bytesSent + (a.bytes ?? 0);
  if (a.ok)
    return { ...d, status: "answered", round, samples: a.samples, bytesSent, rawBytes: d.rawBytes };
  return { ...d, status: "dropped", bytesSent, reason: `round ${round}: ${a.reason}` };
}

/** A round goes on with the devices that answered it, if there are at least `minDevices`. */
export function settleRound(
  devices: readonly CalibrationDeviceView[],
  round: 1 | 2,
  minDevices: number,
): { ok: true; answered: string[] } | { ok: false; error: string } {
  const answered = devices.filter((d) => d.status === "answered" && d.round === round);
  if (answered.length >= minDevices) return { ok: true, answered: answered.map((d) => d.deviceId) };
  const dropped = devices
    .filter((d) => d.status === "dropped")
    .map((d) => `${d.deviceId}: ${d.reason ?? "dropped"}`);
  return {
    ok: false,
    error:
      `round ${round}: ${answered.length} of ${devices.length} devices answered, the run needs ${minDevices}` +
      (dropped.length ? ` (${dropped.join("; ")})` : ""),
  };
}

/** Why a device's request failed, in words an operator reads. */
export function describeRequestError(err: unknown, timeoutMs: number): string {
  const text = err instanceof Error ? `${err.name} ${err.message}` : String(err);
  if (/503|no responders/i.test(text)) return "not connected (no responder on its rpc subject)";
  if (/timeout/i.test(text)) return `no reply within ${Math.round(timeoutMs / 1000)} s`;
  return err instanceof Error ? err.message : text;
}
