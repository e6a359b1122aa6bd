// The shadow of shadow mode: the variant that served before the new one, kept loaded after a
// swap (instead of released) so that a sample of live requests also runs on it, after the new
// variant's answer has gone out, and the two top-1 classes are compared. Its runs never touch
// the serving path: no queue, no batcher, no failure counting, no request or run telemetry.
//
// Cost: two models are resident while shadowing (three while the next variant loads beside
// them), and each compared request costs one more run of the old model on the JS thread.
import type { Tensor } from "./batch-plan";
import type { ServingMeta } from "./model-slot";
import type { LoadedModel } from "./runtime";
import { compareTop1, planShadowRun, type ShadowSkip, type ShadowStatus } from "./shadow-plan";

export interface ShadowHooks {
  compared(agreed: boolean): void;
  skipped(reason: ShadowSkip): void;
  failed(err: unknown): void;
}

export interface ShadowRequest {
  input: Float32Array;
  samples: number;
  /** The new variant's first output for this request. */
  primary: Tensor;
  /** Requests of the new variant queued or running, read just before the shadow runs. */
  primaryPending(): number;
}

export class Shadow {
  private state: ShadowStatus = "draining";
  private running: Promise<void> | undefined;
  private released: Promise<void> | undefined;

  constructor(
    readonly model: LoadedModel,
    readonly meta: ServingMeta,
    public sampleRate: number,
    /** Resolves once the model finished the requests it admitted while it served. */
    drained: Promise<void>,
  ) {
    void drained.then(() => {
      if (this.state === "draining") this.state = "ready";
    });
  }

  get status(): ShadowStatus {
    return this.state;
  }

  /**
   * Schedules one comparison; the caller checked `status` is "ready" (planShadowSample). The
   * run waits for setImmediate: the caller's answer resolves first and its transport writes the
   * response in the same turn, so the shadow starts only after the client has its answer.
   */
  compare(req: ShadowRequest, hooks: ShadowHooks): void {
    this.state = "busy";
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.runOnce(req, hooks))
      .finally(() => {
        if (this.state === "busy") this.state = "ready";
        this.running = undefined;
      });
  }

  /** Releases the model once the comparison in progress (if any) is over. Idempotent. */
  release(): Promise<void> {
    this.released ??= (async () => {
      this.state = "draining";
      await this.running;
      await this.model.release();
    })();
    return this.released;
  }

  private async runOnce(req: ShadowRequest, hooks: ShadowHooks): Promise<void> {
    if (this.released) return;
    const plan = planShadowRun({
      primaryPending: req.primaryPending(),
      samples: req.samples,
      shadowDynamicBatch: this.model.dynamicBatch,
      shadowFixedBatch: this.model.fixedBatch,
    });
    if (plan !== "run") {
      safely(() => hooks.skipped(plan));
      return;
    }
    let agreed: boolean[];
    try {
      const out = await this.model.run(req.input, req.samples);
      agreed = compareTop1(req.primary.data, out[this.model.outputNames[0]].data, req.samples);
    } catch (err) {
      safely(() => hooks.failed(err));
      return;
    }
    for (const a of agreed) safely(() => hooks.compared(a));
  }
}

/** A hook that throws must not turn into an unhandled rejection of a fire-and-forget run. */
function safely(f: () => void): void {
  try {
    f();
  } catch {
    // observers are the owner's code; the serving layer has nowhere better to send this
  }
}
