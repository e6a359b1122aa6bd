// Pure micro-batching decisions and tensor stacking: no timers, no model, no IO. The batcher
// (batcher.ts) asks `planNextRun` what to do whenever no run is in progress.

export interface BatchPolicy {
  /** Samples per run; 1 turns batching off. */
  maxBatch: number;
  /** How long the oldest request may wait for others to join it. */
  maxDelayMs: number;
  /** Without a dynamic batch axis requests cannot be stacked. */
  dynamicBatch: boolean;
}

export interface QueuedRequest {
  /** Samples this request holds (its batch dim). */
  samples: number;
  /** When it was queued, on the same clock as `now`. */
  queuedAt: number;
}

export type RunPlan =
  /** Nothing queued. */
  | { action: "idle" }
  /** Run the first `take` requests of the queue together now. */
  | { action: "run"; take: number; samples: number }
  /** The batch could still grow: decide again at `until` (or when a request arrives). */
  | { action: "wait"; until: number };

/**
 * Takes requests in arrival order only (FIFO: a small request never overtakes a large one that
 * arrived first), as many as fit in `maxBatch` samples. Runs at once when the batch is full, when
 * the next request does not fit (waiting cannot help it), or when the oldest has waited
 * `maxDelayMs`; requests that queued up behind a run in progress have usually waited that long
 * already, so under load batches form without any added delay. A request larger than `maxBatch`
 * runs alone.
 */
export function planNextRun(
  queue: readonly QueuedRequest[],
  policy: BatchPolicy,
  now: number,
): RunPlan {
  if (queue.length === 0) return { action: "idle" };
  const head = queue[0];
  if (!policy.dynamicBatch || policy.maxBatch <= 1 || head.samples >= policy.maxBatch) {
    return { action: "run", take: 1, samples: head.samples };
  }
  let take = 0;
  let samples = 0;
  while (take < queue.length && samples + queue[take].samples <= policy.maxBatch) {
    samples += queue[take].samples;
    take++;
  }
  const full = samples === policy.maxBatch;
  const blocked = take < queue.length;
  const deadline = head.queuedAt + policy.maxDelayMs;
  if (full || blocked || now >= deadline) return { action: "run", take, samples };
  return { action: "wait", until: deadline };
}

/** Values in one sample of these dims. */
export function sampleSize(sampleDims: readonly number[]): number {
  return sampleDims.reduce((a, b) => a * b, 1);
}

/** Concatenates the requests' samples along the batch axis (no copy for a single request). */
export function stackInputs(inputs: readonly Float32Array[]): Float32Array {
  if (inputs.length === 1) return inputs[0];
  let length = 0;
  for (const x of inputs) length += x.length;
  const out = new Float32Array(length);
  let offset = 0;
  for (const x of inputs) {
    out.set(x, offset);
    offset += x.length;
  }
  return out;
}

export interface Tensor {
  dims: number[];
  data: Float32Array;
}

/**
 * Splits each output of a stacked run back per request along the batch axis (views, no copy).
 * Returns undefined when an output does not follow the input's batch axis (its first dim is not
 * the stacked batch): such outputs cannot be attributed to requests.
 */
export function splitOutputs(
  outputs: Readonly<Record<string, Tensor>>,
  batches: readonly number[],
): Record<string, Tensor>[] | undefined {
  const total = batches.reduce((a, b) => a + b, 0);
  const parts: Record<string, Tensor>[] = batches.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims.length === 0 || t.dims[0] !== total) return undefined;
    const inner = t.data.length / total;
    let offset = 0;
    batches.forEach((b, i) => {
      parts[i][name] = {
        dims: [b, ...t.dims.slice(1)],
        data: t.data.subarray(offset * inner, (offset + b) * inner),
      };
      offset += b;
    });
  }
  return parts;
}
