// What answers local inference requests now. The reconcile loop loads and warms a variant beside
// the one serving, then `swap`s it in: from that instant new requests go to the new model, those
// already admitted finish on the old one, and the old one is released when its last request is
// done, unless the swap asks for shadow mode: then the old one is kept as the shadow (shadow.ts)
// until the next swap or unload. Every transport (HTTP, gRPC) calls `infer` on the same slot.
import { type RuntimeOptions, runtimeOptionsSchema } from "@edgefleet/protocol";
import type { Tensor } from "./batch-plan";
import { Batcher } from "./batcher";
import { type InferenceFailedError, InvalidServingModelError, NoModelError } from "./errors";
import type { LoadedModel } from "./runtime";
import { Shadow } from "./shadow";
import {
  chooseShadow,
  planShadowSample,
  type ShadowCandidate,
  type ShadowChoice,
  type ShadowMiss,
} from "./shadow-plan";
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
 * - onShadow: one sample of a request compared on the shadow model, after its answer went out:
 *   whether both top-1 classes agreed. Shadow runs appear in none of the hooks above.
 * - onShadowSkipped: a sampled request that was not compared (see ShadowSkip), or whose shadow
 *   run failed (details go to the slot's onShadowError).
 */
export interface ServingObserver {
  onRequest(latencyMs: number, outcome: RequestOutcome): void;
  onRun(batchSize: number, runMs: number): void;
  onQueueDepth(depth: number): void;
  onSwap?(current: ServingMeta | null, previous: ServingMeta | null): void;
  onShadow?(agreed: boolean): void;
  onShadowSkipped?(reason: ShadowMiss): void;
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
  /** A shadow run failed: the old variant's problem, never counted against the one serving. */
  onShadowError?(err: unknown, shadow: ServingMeta): void;
  /** Uniform draws in [0, 1) that decide which requests are compared (default Math.random). */
  random?(): number;
}

export interface SwapOptions {
  /**
   * Shadow mode: keep the model serving until now as the shadow and compare this fraction of the
   * new model's requests on it. null or absent: no shadow (one held so far is released).
   */
  shadow?: { sampleRate: number } | null;
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
  /**
   * Resolves once the previous model's last request finished and it was released (or kept as
   * the shadow), and a shadow given up by this swap was released.
   */
  released: Promise<void>;
  /** The shadow after this swap, or null; `noShadow` says why one asked for was not kept. */
  shadow: ServingMeta | null;
  noShadow?: string;
}

interface Entry extends ServingModel {
  batcher: Batcher;
  failures: number;
}

export class ModelSlot {
  private active: Entry | undefined;
  /** Every entry with requests still queued or running, the active one included. */
  private readonly live = new Set<Entry>();
  /** The shadow and the entry whose requests it compares (only that one's, never the old's). */
  private shadowed: { shadow: Shadow; primary: Entry } | undefined;

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

  /** The shadow model, while shadow mode is on. */
  shadow(): ServingMeta | null {
    return this.shadowed ? { ...this.shadowed.shadow.meta } : null;
  }

  /** Failed runs in a row of the model serving now (0 when nothing is loaded). */
  get consecutiveFailures(): number {
    return this.active?.failures ?? 0;
  }

  /**
   * Puts `next` in service at once (synchronously) and retires the previous model, or keeps it
   * as the shadow (`opts.shadow`). Throws InvalidServingModelError, changing nothing, for
   * metadata or options it cannot serve with.
   */
  swap(next: ServingModel, opts: SwapOptions = {}): Swapped {
    const held = this.shadowed?.shadow.model;
    const options = validateServingModel(next, held ? [...this.live, { model: held }] : this.live);
    const sampleRate = opts.shadow?.sampleRate;
    if (sampleRate !== undefined && !(sampleRate > 0 && sampleRate <= 1)) {
      throw new InvalidServingModelError(
        "shadow.sampleRate",
        `must be in (0, 1], got ${sampleRate}`,
      );
    }
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
    return this.replace(entry, sampleRate);
  }

  /** Stops serving: new requests get NoModelError; admitted ones still finish. The shadow goes. */
  unload(): Swapped {
    return this.replace(undefined, undefined);
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
    let batch: number;
    try {
      if (!entry) throw new NoModelError();
      batch = validateInput(entry.model, input, dims);
      pending = entry.batcher.submit(input, batch);
    } catch (err) {
      observer?.onRequest(performance.now() - t0, "rejected");
      throw err;
    }
    try {
      const outputs = await pending;
      const latencyMs = performance.now() - t0;
      observer?.onRequest(latencyMs, "ok");
      const result: InferResult = {
        outputs: entry.model.outputNames.map((name) => ({ name, ...outputs[name] })),
        model: { ...entry.meta },
        latencyMs,
      };
      this.offerShadow(entry, input, batch, result.outputs[0]);
      return result;
    } catch (err) {
      observer?.onRequest(performance.now() - t0, "error");
      throw err;
    }
  }

  /** Decides (synchronously, cheaply) whether to compare this answered request on the shadow. */
  private offerShadow(entry: Entry, input: Float32Array, samples: number, primary: NamedTensor) {
    const held = this.shadowed;
    // Requests the old model answered while draining are not comparisons of the new one.
    if (!held || held.primary !== entry || !primary) return;
    const { shadow } = held;
    const observer = this.options.observer;
    const plan = planShadowSample(shadow.sampleRate, this.random(), shadow.status);
    if (plan === "unsampled") return;
    if (plan !== "run") {
      observer?.onShadowSkipped?.(plan);
      return;
    }
    shadow.compare(
      { input, samples, primary, primaryPending: () => entry.batcher.pending },
      {
        compared: (agreed) => observer?.onShadow?.(agreed),
        skipped: (reason) => observer?.onShadowSkipped?.(reason),
        failed: (err) => {
          observer?.onShadowSkipped?.("failed");
          this.options.onShadowError?.(err, { ...shadow.meta });
        },
      },
    );
  }

  private random(): number {
    return this.options.random ? this.options.random() : Math.random();
  }

  private replace(next: Entry | undefined, sampleRate: number | undefined): Swapped {
    const prev = this.active;
    const held = this.shadowed;
    const choice = next
      ? chooseShadow({
          requested: sampleRate !== undefined,
          next: candidate(next),
          previous: prev ? candidate(prev) : null,
          current: held ? candidate(held.shadow) : null,
        })
      : ({ keep: "none" } satisfies ShadowChoice as ShadowChoice);
    this.active = next;
    if (next) this.live.add(next);
    const released: Promise<void>[] = [];
    if (choice.keep === "previous" && prev && next && sampleRate !== undefined) {
      // prev stops taking requests now but finishes those it admitted (the shadow waits for
      // them); its model is not released: it is the shadow from here on.
      const drained = prev.batcher.drained().then(() => {
        this.live.delete(prev);
      });
      this.shadowed = {
        shadow: new Shadow(prev.model, { ...prev.meta }, sampleRate, drained),
        primary: next,
      };
      released.push(drained);
      if (held) released.push(this.releaseShadow(held.shadow));
    } else if (choice.keep === "current" && held && next && sampleRate !== undefined) {
      held.primary = next;
      held.shadow.sampleRate = sampleRate;
      if (prev) released.push(this.retire(prev));
    } else {
      this.shadowed = undefined;
      if (held) released.push(this.releaseShadow(held.shadow));
      if (prev) released.push(this.retire(prev));
    }
    this.options.observer?.onSwap?.(next ? { ...next.meta } : null, prev ? { ...prev.meta } : null);
    return {
      previous: prev ? { ...prev.meta } : null,
      released: released.length > 0 ? Promise.all(released).then(() => {}) : done,
      shadow: this.shadow(),
      ...(choice.keep === "none" && choice.reason ? { noShadow: choice.reason } : {}),
    };
  }

  private async releaseShadow(shadow: Shadow): Promise<void> {
    try {
      await shadow.release();
    } catch (err) {
      this.options.onReleaseError?.(err, { ...shadow.meta });
    }
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

function candidate(e: { model: LoadedModel; meta: ServingMeta }): ShadowCandidate {
  return { digest: e.meta.digest, sampleDims: e.model.sampleDims };
}

function validateServingModel(
  next: ServingModel,
  live: Iterable<{ model: LoadedModel }>,
): RuntimeOptions {
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
