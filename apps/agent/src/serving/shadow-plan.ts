// Pure decisions of shadow mode (a rollout's quality gate): which model becomes the shadow at a
// swap, which answered requests are compared on it, and whether their top-1 classes agree. No
// timers, no models: shadow.ts and the slot carry them out.

/** What the slot knows of a model when it picks a shadow. */
export interface ShadowCandidate {
  /** sha256 of the artifact: the same artifact compared with itself tells nothing. */
  digest: string;
  sampleDims: readonly number[];
}

export type ShadowChoice =
  /** The model that served until this swap becomes the shadow. */
  | { keep: "previous" }
  /** The shadow already held stays: the variant it is compared with was re-applied. */
  | { keep: "current" }
  | { keep: "none"; reason?: string };

/**
 * At a swap to `next`: the shadow is the variant that served before it (`previous`). When that
 * is the same artifact (a new generation re-applying the variant, e.g. a rollout changing the
 * sample rate), the shadow held so far stays, so the comparison is still against the old
 * variant. A shadow must take the same input: the same request runs on both.
 */
export function chooseShadow(c: {
  requested: boolean;
  next: ShadowCandidate;
  previous: ShadowCandidate | null;
  current: ShadowCandidate | null;
}): ShadowChoice {
  if (!c.requested) return { keep: "none" };
  const fits = (s: ShadowCandidate) => sameDims(s.sampleDims, c.next.sampleDims);
  if (c.previous && c.previous.digest !== c.next.digest) {
    if (fits(c.previous)) return { keep: "previous" };
    return {
      keep: "none",
      reason: `the variant serving before takes input [${c.previous.sampleDims.join(", ")}], the new one [${c.next.sampleDims.join(", ")}]`,
    };
  }
  if (c.current && c.current.digest !== c.next.digest && fits(c.current)) {
    return { keep: "current" };
  }
  return {
    keep: "none",
    reason: c.previous
      ? "the variant serving before is the same artifact"
      : "nothing served before this variant",
  };
}

export type ShadowStatus =
  /** Kept, but the previous model still finishes requests it admitted before the swap. */
  | "draining"
  | "ready"
  /** A comparison is scheduled or running: one at a time. */
  | "busy";

export type ShadowSkip = "draining" | "busy" | "primaryBusy" | "incompatible";
/** Why a sampled request has no comparison: skipped, or the shadow run failed. */
export type ShadowMiss = ShadowSkip | "failed";

/**
 * Whether a request just answered by the new variant is compared on the shadow. `draw` is a
 * uniform number in [0, 1) (the slot's injectable random): a request is sampled when
 * draw < sampleRate, so rate 1 samples every request. A sampled request is skipped, never
 * queued, when the shadow cannot take it now: comparisons are a sample anyway, and a queue of
 * them would be memory and CPU spent behind the requests that matter.
 */
export function planShadowSample(
  sampleRate: number,
  draw: number,
  status: ShadowStatus,
): "run" | "unsampled" | ShadowSkip {
  if (!(draw < sampleRate)) return "unsampled";
  if (status !== "ready") return status;
  return "run";
}

/**
 * Just before the shadow runs (after the answer went out): onnxruntime-node runs a model on the
 * JS thread, so a shadow run started while the new variant has requests queued or running would
 * make them wait; it is skipped instead. A model with a static batch axis takes only its batch.
 */
export function planShadowRun(r: {
  primaryPending: number;
  samples: number;
  shadowDynamicBatch: boolean;
  shadowFixedBatch?: number;
}): "run" | ShadowSkip {
  if (r.primaryPending > 0) return "primaryBusy";
  if (!r.shadowDynamicBatch && r.shadowFixedBatch !== r.samples) return "incompatible";
  return "run";
}

export class OutputShapeError extends Error {
  override name = "OutputShapeError";
}

/**
 * The top-1 class of each of `samples` samples in a row-major output (first axis the batch):
 * the index of the largest value (the first one on ties; NaN never wins).
 */
export function top1(data: Float32Array, samples: number): Int32Array {
  if (!(Number.isInteger(samples) && samples > 0) || data.length % samples !== 0) {
    throw new OutputShapeError(`${data.length} output values do not split into ${samples} samples`);
  }
  const per = data.length / samples;
  if (per === 0) throw new OutputShapeError("the output has no classes");
  const out = new Int32Array(samples);
  for (let s = 0; s < samples; s++) {
    const base = s * per;
    let best = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < per; k++) {
      const v = data[base + k];
      if (v > bestValue) {
        bestValue = v;
        best = k;
      }
    }
    out[s] = best;
  }
  return out;
}

/** Per sample: do both outputs name the same top-1 class? */
export function compareTop1(
  primary: Float32Array,
  shadow: Float32Array,
  samples: number,
): boolean[] {
  const a = top1(primary, samples);
  const b = top1(shadow, samples);
  return Array.from(a, (cls, i) => cls === b[i]);
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
