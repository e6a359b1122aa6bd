// One model's request queue and run loop: bounded, FIFO, one run at a time, and (when the model
// has a dynamic batch axis) stacking of queued requests into one run as `planNextRun` decides.
//
// One run at a time because an ORT session already spreads a run over its intra-op threads, and
// onnxruntime-node runs on the JS thread anyway: two runs side by side only contend.
import {
  type BatchPolicy,
  planNextRun,
  splitOutputs,
  stackInputs,
  type Tensor,
} from "./batch-plan";
import { InferenceFailedError, QueueFullError } from "./errors";
import type { LoadedModel } from "./runtime";

export interface BatcherOptions {
  model: LoadedModel;
  policy: BatchPolicy;
  /** Requests waiting (not yet running) beyond this many are refused. */
  queueLimit: number;
  /** >= 1; see `runOnce`. */
  simulatedSlowdown: number;
  /** Samples in the run and its duration, the simulated wait included. */
  onRun(samples: number, runMs: number): void;
  /** Every run's outcome, for consecutive-failure counting. */
  onRunOutcome(error: InferenceFailedError | undefined): void;
  /** The number of waiting requests changed. */
  onQueueChange(): void;
}

interface Pending {
  input: Float32Array;
  samples: number;
  queuedAt: number;
  resolve(outputs: Record<string, Tensor>): void;
  reject(err: unknown): void;
}

export class Batcher {
  private readonly queue: Pending[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private idleWaiters: (() => void)[] = [];
  private pumpScheduled = false;

  constructor(private readonly options: BatcherOptions) {}

  /** Requests queued and not yet running. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Requests queued or running: the model may be released only when this is 0. */
  get pending(): number {
    return this.queue.length + this.running;
  }

  /**
   * Queues `samples` samples. Throws QueueFullError at once (nothing queued) when full; the
   * promise rejects with InferenceFailedError when the model fails on this request.
   */
  submit(input: Float32Array, samples: number): Promise<Record<string, Tensor>> {
    if (this.queue.length >= this.options.queueLimit) {
      throw new QueueFullError(this.options.queueLimit);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ input, samples, queuedAt: performance.now(), resolve, reject });
      this.options.onQueueChange();
      this.schedulePump();
    });
  }

  /** Resolves once nothing is queued or running. */
  drained(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Decides on the next turn of the event loop rather than at once: requests parsed in the same
   * turn (the HTTP server reads every socket that became readable during a run in one go) are
   * then stacked together even with maxDelayMs 0, at the cost of one turn (microseconds).
   */
  private schedulePump(): void {
    if (this.pumpScheduled || this.running > 0) return;
    const { dynamicBatch, maxBatch } = this.options.policy;
    if (!dynamicBatch || maxBatch <= 1) {
      this.pump(); // nothing to stack: no reason to wait a turn
      return;
    }
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.running > 0) return;
    const plan = planNextRun(this.queue, this.options.policy, performance.now());
    if (plan.action === "wait") {
      if (this.timer && this.timerAt === plan.until) return;
      clearTimeout(this.timer);
      this.timerAt = plan.until;
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.pump();
        },
        Math.max(0, plan.until - performance.now()),
      );
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    if (plan.action === "idle") {
      for (const wake of this.idleWaiters.splice(0)) wake();
      return;
    }
    const batch = this.queue.splice(0, plan.take);
    this.running = batch.length;
    this.options.onQueueChange();
    void this.execute(batch).finally(() => {
      this.running = 0;
      this.schedulePump();
    });
  }

  private async execute(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      await this.runAlone(batch[0]);
      return;
    }
    const result = await this.runOnce(batch);
    const parts = result.ok
      ? splitOutputs(
          result.outputs,
          batch.map((p) => p.samples),
        )
      : undefined;
    if (parts) {
      this.options.onRunOutcome(undefined);
      for (const [i, p] of batch.entries()) p.resolve(parts[i]);
      return;
    }
    // A failed stacked run is retried one request at a time, so that one request's input that
    // the model chokes on fails only that request; a stacked run whose outputs cannot be split
    // (an output without the batch axis) is answered the same way.
    for (const p of batch) await this.runAlone(p);
  }

  private async runAlone(p: Pending): Promise<void> {
    const result = await this.runOnce([p]);
    this.options.onRunOutcome(result.ok ? undefined : result.error);
    if (result.ok) p.resolve(result.outputs);
    else p.reject(result.error);
  }

  /**
   * One model run over the stacked requests. A simulated device class (slowdown factor > 1)
   * then waits (factor - 1) x the measured run time before answering, still holding the run
   * slot, so both the latency and the throughput a client sees are the slower device's. The
   * reported run time includes that wait: it is what a run costs on the simulated device.
   */
  private async runOnce(
    batch: Pending[],
  ): Promise<
    { ok: true; outputs: Record<string, Tensor> } | { ok: false; error: InferenceFailedError }
  > {
    const samples = batch.reduce((n, p) => n + p.samples, 0);
    const input = stackInputs(batch.map((p) => p.input));
    const t0 = performance.now();
    try {
      const outputs = await this.options.model.run(input, samples);
      const measuredMs = performance.now() - t0;
      const factor = this.options.simulatedSlowdown;
      if (factor > 1) await sleep((factor - 1) * measuredMs);
      this.options.onRun(samples, performance.now() - t0);
      return { ok: true, outputs };
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      const error = new InferenceFailedError(`inference failed: ${detail.split("\n")[0].trim()}`, {
        cause,
      });
      return { ok: false, error };
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
