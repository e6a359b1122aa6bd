// What answers local inference requests now. The reconcile loop loads and warms a variant beside
// the one serving, then `swap`s it in: from that instant new requests go to the new model, those
// already admitted finish on the old one, and the old one is released when its last request is
// done. Every transport (HTTP, gRPC) calls `infer` on the same slot.
import { type RuntimeOptions, runtimeOptionsSchema } from "@edgefleet/protocol";
import type { Tensor } from "./batch-plan";
import { Batcher } from "./batcher";
import { type InferenceFailedError, InvalidServingModelError, NoModelError } from "./errors";
import type { LoadedModel } from "./runtime";
import { validateInput } from "./validate-input";

export interface ServingMeta {
  variantId: string;
  variantName: string;
  /** The desired-state generation this model was assigned by. */
  generation: number;
  /** sha256 hex of the artifact. */
  digest: string;
  kernelType: string;
  /** >= 1: how much slower the simulated device class runs this kernel type; 1 for a real device. */
  simulatedSlowdown: number;
}

/** A model ready to serve: loaded and warmed up by the caller. */
export interface ServingModel {
  model: LoadedModel;
  meta: ServingMeta;
  options: RuntimeOptions;
}

/** What `GET /v1/model` and `GetModel` report. */
export interface ServingInfo extends ServingMeta {
  inputName: string;
  sampleDims: number[];
  outputNames: string[];
  dynamicBatch: boolean;
  options: RuntimeOptions;
}

export type RequestOutcome = "ok" | "error" | "rejected";

/**
 * Telemetry hooks; called synchronously on the request path, so they must be cheap.
 * - onRequest: end-to-end latency inside the agent, queueing included. "ok"; "error" = the model
 *   failed on it; "rejected" = refused before running (invalid input, queue full, no model).
 * - onRun: one model run: samples stacked into it and its duration, including the wait a
 *   simulated device class adds (that is what a run costs on the simulated device).
 * - onQueueDepth: requests waiting (not yet running), over every model still serving.
 * - onSwap: the model changed (`current` null after unload).
 */
export interface ServingObserver {
  onRequest(latencyMs: number, outcome: RequestOutcome): void;
  onRun(batchSize: number, runMs: number): void;
  onQueueDepth(depth: number): void;
  onSwap?(current: ServingMeta | null, previous: ServingMeta | null): void;
}

export interface RunFailure {
  meta: ServingMeta;
  /** Failed runs in a row of this model; a successful run resets it to 0. */
  consecutive: number;
  error: InferenceFailedError;
}

export interface ModelSlotOptions {
  observer?: ServingObserver;
  /** Called after every failed run, so the owner can roll back a variant that keeps crashing. */
  onRunFailure?(failure: RunFailure): void;
  /** Releasing a retired model failed (it is dropped either way). */
  onReleaseError?(err: unknown, meta: ServingMeta): void;
}

export interface NamedTensor extends Tensor {
  name: string;
}

export interface InferResult {
  /** In the model's output order. */
  outputs: NamedTensor[];
  /** The model that answered (during a swap, possibly the previous one). */
  model: ServingMeta;
  latencyMs: number;
}

export interface Swapped {
  /** What served before; null if nothing did. */
  previous: ServingMeta | null;
  /** Resolves once the previous model's last request finished and it was released. */
  released: Promise<void>;
}

interface Entry extends ServingModel {
  batcher: Batcher;
  failures: number;
}

export class ModelSlot {
  private active: Entry | undefined;
  /** Every entry with requests still queued or running, the active one included. */
  private readonly live = new Set<Entry>();

  constructor(private readonly options: ModelSlotOptions = {}) {}

  current(): ServingMeta | null {
    return this.active ? { ...this.active.meta } : null;
  }

  describe(): ServingInfo | null {
    const e = this.active;
    if (!e) return null;
    return {
      ...e.meta,
      inputName: e.model.inputName,
      sampleDims: [...e.model.sampleDims],
      outputNames: [...e.model.outputNames],
      dynamicBatch: e.model.dynamicBatch,
      options: { ...e.options },
    };
  }

  /** Failed runs in a row of the model serving now (0 when nothing is loaded). */
  get consecutiveFailures(): number {
    return this.active?.failures ?? 0;
  }

  /**
   * Puts `next` in service at once (synchronously) and retires the previous model. Throws
   * InvalidServingModelError, changing nothing, for metadata or options it cannot serve with.
   */
  swap(next: ServingModel): Swapped {
    const options = validateServingModel(next, this.live);
    const batcher = new Batcher({
      model: next.model,
      policy: {
        maxBatch: options.maxBatch,
        maxDelayMs: options.maxDelayMs,
        dynamicBatch: next.model.dynamicBatch,
      },
      queueLimit: options.queueLimit,
      simulatedSlowdown: next.meta.simulatedSlowdown,
      onRun: (samples, ms) => this.options.observer?.onRun(samples, ms),
      onRunOutcome: (error) => this.recordOutcome(entry, error),
      onQueueChange: () => this.reportQueueDepth(),
    });
    const entry: Entry = {
      model: next.model,
      meta: { ...next.meta },
      options,
      batcher,
      failures: 0,
    };
    return this.replace(entry);
  }

  /** Stops serving: new requests get NoModelError; admitted ones still finish. */
  unload(): Swapped {
    return this.replace(undefined);
  }

  /**
   * Runs `input` (row-major float32) with full dims `dims` (batch first; default
   * [input.length / sample size, ...sample dims]). Throws NoModelError, InvalidInputError
   * (naming the field), QueueFullError, or InferenceFailedError when the model fails on it.
   */
  async infer(input: Float32Array, dims?: readonly number[]): Promise<InferResult> {
    const t0 = performance.now();
    const observer = this.options.observer;
    // Everything up to `submit` is synchronous: the request is bound to the model serving at
    // this instant, whatever swaps happen while it waits.
    const entry = this.active;
    let pending: Promise<Record<string, Tensor>>;
    try {
      if (!entry) throw new NoModelError();
      const batch = validateInput(entry.model, input, dims);
      pending = entry.batcher.submit(input, batch);
    } catch (err) {
      observer?.onRequest(performance.now() - t0, "rejected");
      throw err;
    }
    try {
      const outputs = await pending;
      const latencyMs = performance.now() - t0;
      observer?.onRequest(latencyMs, "ok");
      return {
        outputs: entry.model.outputNames.map((name) => ({ name, ...outputs[name] })),
        model: { ...entry.meta },
        latencyMs,
      };
    } catch (err) {
      observer?.onRequest(performance.now() - t0, "error");
      throw err;
    }
  }

  private replace(next: Entry | undefined): Swapped {
    const prev = this.active;
    this.active = next;
    if (next) this.live.add(next);
    this.options.observer?.onSwap?.(next ? { ...next.meta } : null, prev ? { ...prev.meta } : null);
    return { previous: prev ? { ...prev.meta } : null, released: prev ? this.retire(prev) : done };
  }

  private async retire(entry: Entry): Promise<void> {
    await entry.batcher.drained();
    this.live.delete(entry);
    try {
      await entry.model.release();
    } catch (err) {
      this.options.onReleaseError?.(err, { ...entry.meta });
    }
  }

  private recordOutcome(entry: Entry, error: InferenceFailedError | undefined): void {
    if (!error) {
      entry.failures = 0;
      return;
    }
    entry.failures++;
    this.options.onRunFailure?.({ meta: { ...entry.meta }, consecutive: entry.failures, error });
  }

  private reportQueueDepth(): void {
    const observer = this.options.observer;
    if (!observer) return;
    let depth = 0;
    for (const e of this.live) depth += e.batcher.waiting;
    observer.onQueueDepth(depth);
  }
}

const done: Promise<void> = Promise.resolve();

function validateServingModel(next: ServingModel, live: ReadonlySet<Entry>): RuntimeOptions {
  const m = next.meta;
  const fail = (field: string, problem: string) => {
    throw new InvalidServingModelError(field, problem);
  };
  if (!next?.model) fail("model", "is required");
  if (!m) fail("meta", "is required");
  for (const e of live) if (e.model === next.model) fail("model", "is already in this slot");
  if (!(Number.isFinite(m?.simulatedSlowdown) && m.simulatedSlowdown >= 1)) {
    fail("meta.simulatedSlowdown", `must be a number >= 1, got ${m?.simulatedSlowdown}`);
  }
  if (!(Number.isSafeInteger(m.generation) && m.generation >= 0)) {
    fail("meta.generation", `must be a non-negative integer, got ${m.generation}`);
  }
  const parsed = runtimeOptionsSchema.safeParse(next.options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(["options", ...issue.path].join("."), issue.message);
  }
  return parsed.data as RuntimeOptions;
}
