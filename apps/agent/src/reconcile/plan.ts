// The agent's reconcile planner (pure, in the balena-supervisor style): from what the device
// serves and what the control plane wants, the steps that close the gap. The reconciler
// (reconciler.ts) runs them through its executors, one pass at a time, and re-plans after it.
import type {
  ArtifactManifest,
  DesiredState,
  ReconcilePhase,
  RuntimeOptions,
} from "@edgefleet/protocol";

/**
 * A variant's result on its assignment's canary set, measured before it was swapped in: a
 * score, or why there is none (a set that does not fit the model, ...), which the "applied"
 * report carries as its error text.
 */
export type CanaryOutcome =
  | { digest: string; samples: number; correct: number }
  | { digest: string; error: string };

/** A variant as installed on this device: what a desired state's assignment asked for. */
export interface Installed {
  generation: number;
  manifest: ArtifactManifest;
  signature: string;
  options: RuntimeOptions;
  /** When the assignment named a canary set; kept so later reports of the generation repeat it. */
  canary?: CanaryOutcome;
}

export interface ReconcileState {
  /** The newest desired state seen; a stale one never replaces it. */
  desired: DesiredState | null;
  serving: Installed | null;
  /** Digests complete in the local cache (checked against their name when stored). */
  cached: ReadonlySet<string>;
  /** Generations given up on: failed too often, refused, or rolled back after crashing. */
  abandoned: ReadonlySet<number>;
  /** The last report sent, so a converged device stays quiet. */
  reported: { generation: number; phase: ReconcilePhase } | null;
}

/** What this device can run (a simulated class lacks some kernels and has less memory). */
export interface DeviceLimits {
  unsupportedKernels: ReadonlySet<string>;
  memoryBudgetBytes: number;
}

export type Step =
  /** The assignment cannot run here: report it failed and give the generation up. */
  | { action: "refuse"; reason: string }
  | { action: "verifyManifest" }
  | { action: "download"; digest: string; bytes: number }
  /** Digest of the bytes against the signed manifest, then unpack to ONNX. */
  | { action: "verifyArtifact" }
  | { action: "load" }
  | { action: "warmUp" }
  /**
   * Top-1 accuracy of the loaded, warmed model on the canary set (downloaded like an artifact),
   * before it serves. Its result never stops the swap: the rollout's gate decides on it.
   */
  | { action: "evaluateCanary"; digest: string }
  /**
   * The loaded model replaces what serves; the new state is persisted before it is reported.
   * With `shadow`, what served before stays loaded as the shadow (shadow mode).
   */
  | { action: "swap"; shadow: { sampleRate: number } | null }
  | { action: "unload" }
  | { action: "report"; phase: ReconcilePhase };

export type StepAction = Step["action"];

export function planSteps(state: ReconcileState, limits: DeviceLimits): Step[] {
  const desired = state.desired;
  if (!desired) return [];
  const generation = desired.generation;
  if (state.abandoned.has(generation)) return [];
  const converged = (): Step[] =>
    state.reported?.generation === generation && state.reported.phase === "applied"
      ? []
      : [{ action: "report", phase: "applied" }];

  const a = desired.assignment;
  if (!a) return state.serving ? [{ action: "unload" }, ...converged()] : converged();

  const refusal = refusalReason(a.manifest, limits);
  if (refusal) return [{ action: "refuse", reason: refusal }];

  // A new generation of the same artifact (other options, or re-asserted) is loaded again from
  // the cache: a session is cheap to open next to the one serving, and the slot then carries the
  // generation and options it serves under. Only the download is skipped.
  if (state.serving?.generation === generation) return converged();
  // Downloads come first, the canary set's too: a network failure then costs no model load.
  const downloads: Step[] = [];
  for (const [digest, bytes] of [
    [a.manifest.digest, a.manifest.sizeBytes],
    ...(a.canary ? [[a.canary.digest, a.canary.sizeBytes] as const] : []),
  ] as const) {
    const planned = downloads.some((d) => d.action === "download" && d.digest === digest);
    if (!state.cached.has(digest) && !planned)
      downloads.push({ action: "download", digest, bytes });
  }
  return [
    { action: "verifyManifest" },
    ...downloads,
    { action: "verifyArtifact" },
    { action: "load" },
    { action: "warmUp" },
    ...(a.canary ? [{ action: "evaluateCanary", digest: a.canary.digest } as const] : []),
    { action: "swap", shadow: a.shadow },
    { action: "report", phase: "applied" },
  ];
}

/** Why a manifest's runtime requirements rule this device out, or undefined when they don't. */
export function refusalReason(m: ArtifactManifest, limits: DeviceLimits): string | undefined {
  if (limits.unsupportedKernels.has(m.runtime.kernelType)) {
    return `${m.variant.name} needs ${m.runtime.kernelType} kernels, which this device does not run`;
  }
  if (m.runtime.memoryBytes > limits.memoryBudgetBytes) {
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    return `${m.variant.name} needs ${mib(m.runtime.memoryBytes)}, this device has ${mib(limits.memoryBudgetBytes)}`;
  }
  return undefined;
}

/**
 * Whether a desired state may replace the one held: only a newer generation for this device.
 * Anything else (older, equal, another device's) is stale and ignored.
 */
export function acceptDesired(
  held: DesiredState | null,
  incoming: DesiredState,
  deviceId: string,
): boolean {
  return incoming.deviceId === deviceId && incoming.generation > (held?.generation ?? 0);
}
