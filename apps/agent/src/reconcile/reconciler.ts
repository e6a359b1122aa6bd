// The reconcile loop: one pass at a time (a trigger during a pass schedules one more, merged),
// each pass asks the pure planner for steps and runs them through the executors below. Failures
// back off exponentially with a cap; a generation that keeps failing to load or warm up, or is
// refused, is given up and reported, and the device keeps serving what it served. A variant
// that crashes in service is replaced by the last good one.
//
// Quality gates of a rollout: an assignment's canary set is evaluated on the loaded variant
// before the swap, and shadow mode keeps the previous variant loaded beside the new one (the
// slot compares them). The agent only measures; the control plane's gates decide.
import {
  CanarySetError,
  decodeCanarySet,
  openArtifact,
  verifySignedManifest,
} from "@edgefleet/artifact";
import { type BackoffPolicy, backoffDelay } from "@edgefleet/bus";
import type { DesiredState, ReconcilePhase, StateReport } from "@edgefleet/protocol";
import type { Logger } from "pino";
import { Coalescer } from "../coalescer";
import {
  CanaryMismatchError,
  CanaryRunError,
  evaluateCanary,
  type InferenceRuntime,
  type ModelSlot,
  OutputShapeError,
  prepareModel,
  type RunFailure,
  type ServingModel,
} from "../serving";
import {
  ArtifactCacheFullError,
  DownloadDigestError,
  type FetchArtifact,
  InsufficientSpaceError,
  type LocalStore,
  type PersistedState,
  runDownload,
} from "./local-store";
import {
  acceptDesired,
  type CanaryOutcome,
  type DeviceLimits,
  type Installed,
  planSteps,
  type Step,
  type StepAction,
} from "./plan";

export interface ReconcilerDeps {
  deviceId: string;
  store: LocalStore;
  slot: Pick<ModelSlot, "swap" | "unload">;
  runtime: InferenceRuntime;
  /** The manifest-signing key pinned at enrollment (SPKI PEM); undefined: nothing is trusted. */
  pinnedKey: string | undefined;
  limits: DeviceLimits;
  /** ONNX Runtime threads when the assignment leaves them to the agent. */
  defaultThreads: number;
  /** Simulated class slowdown for a kernel type (1 on a real device). */
  slowdownFor(kernelType: string): number;
  /** Streams an artifact from the object store (resuming); throws when NATS is unreachable. */
  fetchArtifact: FetchArtifact;
  /** Hands a state report to the reporter (which delivers the latest one once connected). */
  report(report: StateReport): void;
  log: Logger;
  /** Failed attempts at loading a generation before it is given up (default 3). */
  maxAttempts?: number;
  /** Failed runs in a row after which a serving variant is rolled back (default 5). */
  crashThreshold?: number;
  backoff?: BackoffPolicy;
}

/** Failures that no retry can mend: the generation is given up at once. */
class PermanentError extends Error {
  override name = "PermanentError";
}

interface PassContext {
  bytes?: Uint8Array;
  onnx?: Uint8Array;
  prepared?: ServingModel;
  canary?: CanaryOutcome;
}

export class Reconciler {
  private state: PersistedState;
  private readonly passes = new Coalescer(() => this.onePass());
  private retryTimer: NodeJS.Timeout | undefined;
  /** The scheduled retry is of a download that failed for want of the network. */
  private retryAwaitsNetwork = false;
  private failure: { generation: number; attempts: number; transient: number } | undefined;
  private rollback: RunFailure | undefined;
  private reported: { generation: number; phase: ReconcilePhase } | null = null;
  private stopped = false;

  constructor(
    private readonly deps: ReconcilerDeps,
    persisted: PersistedState,
  ) {
    this.state = persisted;
  }

  get serving(): Installed | null {
    return this.state.serving;
  }

  get desired(): DesiredState | null {
    return this.state.desired;
  }

  /**
   * Serves what was serving before the restart, from the local cache, verified again: works with
   * no network at all. Falls back to the last good variant, then to nothing. A shadow is not
   * restored (it lived in memory only): after a restart a variant in shadow mode serves alone
   * and no comparisons are sent until the next assignment that asks for a shadow.
   *
   * Then one pass: `offer` takes only newer generations, so without it a desired state persisted
   * but not applied before the restart (a crash mid-apply) would wait for the next assignment,
   * and a converged device would never report again (the report repeats its canary result).
   */
  async restore(): Promise<void> {
    await this.restoreServing();
    this.trigger();
  }

  private async restoreServing(): Promise<void> {
    for (const candidate of [this.state.serving, this.state.lastGood]) {
      if (!candidate) continue;
      try {
        const prepared = await this.prepare(candidate, {});
        this.deps.slot.swap(prepared);
        if (candidate !== this.state.serving) {
          this.state = { ...this.state, serving: candidate, lastGood: null };
          await this.deps.store.save(this.state);
        }
        this.deps.log.info(
          { variant: candidate.manifest.variant.name, generation: candidate.generation },
          "serving the stored variant",
        );
        return;
      } catch (err) {
        this.deps.log.warn(
          { err: String(err), variant: candidate.manifest.variant.name },
          "stored variant could not be served",
        );
      }
    }
    if (this.state.serving) {
      this.state = { ...this.state, serving: null, lastGood: null };
      await this.deps.store.save(this.state);
    }
  }

  /** A desired state from the control plane: kept (persisted) only if newer, then applied. */
  async offer(desired: DesiredState): Promise<boolean> {
    if (!acceptDesired(this.state.desired, desired, this.deps.deviceId)) return false;
    this.state = { ...this.state, desired };
    await this.deps.store.save(this.state);
    this.failure = undefined;
    this.retryAwaitsNetwork = false;
    clearTimeout(this.retryTimer);
    this.trigger();
    return true;
  }

  /** The slot's failure hook: a variant failing `crashThreshold` runs in a row is rolled back. */
  onRunFailure(f: RunFailure): void {
    if (f.consecutive < (this.deps.crashThreshold ?? 5)) return;
    if (f.meta.generation !== this.state.serving?.generation) return;
    this.rollback ??= f;
    this.trigger();
  }

  /**
   * The connection to NATS is (back) up: a download that failed for want of it is retried now
   * rather than when its backoff, grown while offline, runs out.
   */
  networkUp(): void {
    if (!this.retryAwaitsNetwork) return;
    this.retryAwaitsNetwork = false;
    clearTimeout(this.retryTimer);
    this.trigger();
  }

  /** Schedules a pass; a trigger during a pass is merged into one more pass after it. */
  trigger(): void {
    if (!this.stopped) void this.passes.run();
  }

  /** Resolves once no pass is running (a retry may still be scheduled). */
  async settled(): Promise<void> {
    while (this.passes.busy) await this.passes.run();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  private async onePass(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.rollback) await this.rollBack(this.rollback);
      else await this.pass();
    } catch (err) {
      this.deps.log.error({ err }, "reconcile pass failed unexpectedly");
    }
  }

  private async pass(): Promise<void> {
    const desired = this.state.desired;
    const steps = planSteps(
      {
        desired,
        serving: this.state.serving,
        cached: this.deps.store.cached(),
        abandoned: new Set(this.state.abandoned),
        reported: this.reported,
      },
      this.deps.limits,
    );
    if (steps.length === 0 || !desired) return;
    const ctx: PassContext = {};
    let current: StepAction = steps[0].action;
    try {
      if (steps.some((s) => s.action === "load"))
        this.send("applying", desired.generation, "download");
      for (const step of steps) {
        current = step.action;
        await this.execute(step, desired, ctx);
      }
      this.failure = undefined;
    } catch (err) {
      if (ctx.prepared) await ctx.prepared.model.release().catch(() => {});
      await this.failed(desired.generation, current, err);
    }
  }

  private async execute(step: Step, desired: DesiredState, ctx: PassContext): Promise<void> {
    const a = desired.assignment;
    const target = (): Installed => ({
      generation: desired.generation,
      manifest: a!.manifest,
      signature: a!.signature,
      options: a!.options,
    });
    switch (step.action) {
      case "refuse":
        throw new PermanentError(step.reason);
      case "verifyManifest":
        this.verifyManifest(target());
        return;
      case "download":
        await this.download(step.digest, step.bytes);
        return;
      case "verifyArtifact":
        ctx.onnx = await this.openCached(target());
        return;
      case "load":
      case "warmUp":
        // prepareModel loads and warms in one go (releasing what it loaded when warm-up fails).
        ctx.prepared ??= await this.prepare(target(), { onnx: ctx.onnx });
        return;
      case "evaluateCanary":
        ctx.canary = await this.evaluateCanary(step.digest, ctx.prepared!);
        return;
      case "swap": {
        const next: Installed = { ...target(), ...(ctx.canary ? { canary: ctx.canary } : {}) };
        // With a shadow, two models stay resident (three while the next one loads): the device's
        // memory budget is checked per variant (refusalReason), not for the pair.
        const swapped = this.deps.slot.swap(ctx.prepared!, { shadow: step.shadow });
        ctx.prepared = undefined;
        if (step.shadow && !swapped.shadow) {
          this.deps.log.warn({ reason: swapped.noShadow }, "shadow mode asked for, no shadow kept");
        }
        const previous = this.state.serving;
        this.state = { ...this.state, serving: next, lastGood: previous ?? this.state.lastGood };
        await this.deps.store.save(this.state);
        this.deps.log.info(
          { variant: next.manifest.variant.name, generation: next.generation },
          "variant swapped in",
        );
        return;
      }
      case "unload":
        this.deps.slot.unload();
        this.state = { ...this.state, serving: null, lastGood: this.state.serving };
        await this.deps.store.save(this.state);
        return;
      case "report":
        this.send(step.phase, desired.generation);
        return;
    }
  }

  private verifyManifest(t: Installed): void {
    if (!this.deps.pinnedKey) {
      throw new PermanentError(
        "no artifact signing key is pinned (enrolled before manifests were signed): enroll again",
      );
    }
    try {
      verifySignedManifest(t.manifest, t.signature, this.deps.pinnedKey);
    } catch (err) {
      throw new PermanentError(`manifest refused: ${(err as Error).message}`, { cause: err });
    }
  }

  private async download(digest: string, bytes: number): Promise<void> {
    // What this pass still needs (the variant and its canary set, downloaded one after the
    // other) must not be evicted to make room for the other.
    const a = this.state.desired?.assignment;
    const keep = new Set(
      [
        this.state.serving?.manifest.digest,
        this.state.lastGood?.manifest.digest,
        a?.manifest.digest,
        a?.canary?.digest,
      ].filter((d): d is string => d !== undefined),
    );
    await runDownload(this.deps.store, this.deps.fetchArtifact, digest, bytes, keep, this.deps.log);
  }

  /** The cached bytes, checked against the signed manifest's digest and unpacked to ONNX. */
  private async openCached(t: Installed): Promise<Uint8Array> {
    const bytes = await this.deps.store.read(t.manifest.digest);
    try {
      return (await openArtifact(bytes, t.manifest)).onnx;
    } catch (err) {
      // A damaged cache entry is dropped, so the retry downloads it again.
      await this.deps.store.discard(t.manifest.digest);
      throw err;
    }
  }

  /**
   * The canary set from the cache (its digest was checked when stored), scored on the loaded
   * model. A set that cannot be scored on it (not EFCS, other sample dims, outputs that are not
   * per sample, a run that fails) is an outcome to report, not a reason to stop: the swap goes
   * ahead and the rollout's gate decides (a variant that then crashes in service is rolled back
   * as any other). Only the cache read failing fails the pass.
   */
  private async evaluateCanary(digest: string, prepared: ServingModel): Promise<CanaryOutcome> {
    const bytes = await this.deps.store.read(digest);
    try {
      const score = await evaluateCanary(prepared.model, decodeCanarySet(bytes));
      this.deps.log.info({ digest, ...score }, "canary set evaluated");
      return { digest, ...score };
    } catch (err) {
      const outcome =
        err instanceof CanarySetError ||
        err instanceof CanaryMismatchError ||
        err instanceof CanaryRunError ||
        err instanceof OutputShapeError;
      if (!outcome) throw err;
      this.deps.log.warn({ digest, err: err.message }, "canary set not evaluated");
      return { digest, error: err.message };
    }
  }

  private async prepare(t: Installed, ctx: { onnx?: Uint8Array }): Promise<ServingModel> {
    if (!ctx.onnx) {
      this.verifyManifest(t);
      ctx.onnx = await this.openCached(t);
    }
    return prepareModel(this.deps.runtime, ctx.onnx, {
      manifest: t.manifest,
      generation: t.generation,
      options: t.options,
      defaultThreads: this.deps.defaultThreads,
      simulatedSlowdown: this.deps.slowdownFor(t.manifest.runtime.kernelType),
    });
  }

  private async failed(generation: number, step: StepAction, err: unknown): Promise<void> {
    const message = `${step}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 900);
    const f =
      this.failure?.generation === generation
        ? this.failure
        : { generation, attempts: 0, transient: 0 };
    this.failure = f;
    // Reaching the artifact is the network's problem and may take as long as it takes; the
    // variant's own failures (bad signature, bytes, load, warm-up) count toward giving up.
    const transient =
      step === "download" &&
      !(err instanceof PermanentError) &&
      !(err instanceof DownloadDigestError) &&
      !(err instanceof ArtifactCacheFullError) &&
      !(err instanceof InsufficientSpaceError);
    if (transient) f.transient++;
    else f.attempts++;
    const giveUp = err instanceof PermanentError || f.attempts >= (this.deps.maxAttempts ?? 3);
    this.deps.log.warn({ err: message, generation, attempts: f.attempts, giveUp }, "apply failed");
    if (giveUp) {
      this.state = { ...this.state, abandoned: [...this.state.abandoned, generation].slice(-100) };
      await this.deps.store.save(this.state);
      this.send("failed", generation, undefined, `${message}; gave up on generation ${generation}`);
      return;
    }
    // A download cut by the network (a lost NATS node, a leader election) is still under way, not
    // a failed install: a "failed" report would count against the rollout's install gate.
    if (transient) this.send("applying", generation, "download", `${message}; retrying`);
    else this.send("failed", generation, undefined, `${message}; retrying`);
    const delay = backoffDelay(
      f.attempts + f.transient - 1,
      this.deps.backoff ?? { baseMs: 500, maxMs: 60_000 },
      Math.random(),
    );
    clearTimeout(this.retryTimer);
    this.retryAwaitsNetwork = transient;
    this.retryTimer = setTimeout(() => {
      this.retryAwaitsNetwork = false;
      this.trigger();
    }, delay);
  }

  private async rollBack(f: RunFailure): Promise<void> {
    this.rollback = undefined;
    const bad = this.state.serving;
    if (!bad || bad.generation !== f.meta.generation) return;
    const reason = `${bad.manifest.variant.name} failed ${f.consecutive} runs in a row (${f.error.message})`;
    const good = this.state.lastGood;
    let restored: Installed | null = null;
    if (good) {
      try {
        this.deps.slot.swap(await this.prepare(good, {}));
        restored = good;
      } catch (err) {
        this.deps.log.error({ err: String(err) }, "last good variant could not be loaded");
      }
    }
    if (!restored) this.deps.slot.unload();
    this.state = {
      ...this.state,
      serving: restored,
      lastGood: null,
      abandoned: [...this.state.abandoned, bad.generation].slice(-100),
    };
    await this.deps.store.save(this.state);
    const now = restored ? `serving ${restored.manifest.variant.name} again` : "serving nothing";
    this.deps.log.error({ reason }, `variant rolled back: ${now}`);
    this.send(
      "rolled-back",
      this.state.desired?.generation ?? bad.generation,
      undefined,
      `${reason}; ${now}`,
    );
  }

  private send(phase: ReconcilePhase, generation: number, step?: string, error?: string): void {
    const s = this.state.serving;
    this.reported = { generation, phase };
    // Every report about the generation that was evaluated repeats its canary outcome (it is
    // persisted with what serves), so one sent again after a reconnect or restart still has it.
    const c = s?.generation === generation ? s.canary : undefined;
    const canaryError = c && "error" in c ? `canary set not evaluated: ${c.error}` : undefined;
    const errorText = [error, canaryError].filter(Boolean).join("; ").slice(0, 1000);
    this.deps.report({
      type: "state",
      sentAt: Date.now(),
      generation,
      phase,
      ...(step ? { step } : {}),
      serving: s
        ? { generation: s.generation, variantId: s.manifest.variant.id, digest: s.manifest.digest }
        : null,
      ...(errorText ? { error: errorText } : {}),
      ...(c && "correct" in c
        ? { canary: { digest: c.digest, samples: c.samples, correct: c.correct } }
        : {}),
    });
  }
}
