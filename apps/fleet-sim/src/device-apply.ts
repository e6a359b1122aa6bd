// A virtual device's reconcile loop: the agent's own planner (@edgefleet/agent/reconcile-plan)
// decides the steps from desired and served state; here they are simulated instead of run.
// Manifests are verified against the pinned key as the agent does (Ed25519 is cheap); the
// artifact is downloaded by direct gets and checked against its sha256 only with `download`,
// otherwise the steps take the model's apply time. Reports are the agent's state reports.
import { createHash } from "node:crypto";
import { Coalescer } from "@edgefleet/agent/coalescer";
import {
  acceptDesired,
  type DeviceLimits,
  type Installed,
  planSteps,
  type Step,
  type StepAction,
} from "@edgefleet/agent/reconcile-plan";
import { verifySignedManifest } from "@edgefleet/artifact";
import { backoffDelay } from "@edgefleet/bus";
import type { DesiredState, ReconcilePhase, StateReport } from "@edgefleet/protocol";
import type { SimulationModel } from "./model";
import type { Random } from "./random";

export interface DeviceApplyDeps {
  deviceId: string;
  deviceClass: string;
  limits: DeviceLimits;
  model: SimulationModel;
  random: Random;
  /** SPKI PEM pinned at registration; "" refuses every assignment, as the agent does. */
  pinnedKey: string;
  /** Streams an object of the `artifacts` store (direct gets); undefined: simulate downloads. */
  download?: (digest: string, onChunk: (chunk: Uint8Array) => void) => Promise<void>;
  report(report: StateReport): void;
  /** Attempts at a generation before giving up (default 3, as the agent). */
  maxAttempts?: number;
}

class PermanentError extends Error {
  override name = "PermanentError";
}
class TransientError extends Error {
  override name = "TransientError";
}

export interface CanaryResult {
  digest: string;
  samples: number;
  correct: number;
}

export class DeviceApply {
  desired: DesiredState | null = null;
  serving: Installed | null = null;
  /** What served before `serving`: shadow mode runs it beside the new variant. */
  previous: Installed | null = null;
  staleIgnored = 0;
  applied = 0;
  failed = 0;
  private readonly cached = new Set<string>();
  private readonly abandoned = new Set<number>();
  private reported: { generation: number; phase: ReconcilePhase } | null = null;
  private canary: (CanaryResult & { generation: number }) | null = null;
  private failure: { generation: number; attempts: number; transient: number } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly passes = new Coalescer(() => this.pass());
  private stopped = false;

  constructor(private readonly deps: DeviceApplyDeps) {}

  get lastReported() {
    return this.reported;
  }

  /** A desired state read from KV: kept only if newer (a stale one is counted and ignored). */
  offer(desired: DesiredState): boolean {
    if (!acceptDesired(this.desired, desired, this.deps.deviceId)) {
      if (this.desired && desired.generation < this.desired.generation) this.staleIgnored++;
      return false;
    }
    this.desired = desired;
    this.failure = undefined;
    clearTimeout(this.retryTimer);
    this.trigger();
    return true;
  }

  trigger(): void {
    if (!this.stopped) void this.passes.run();
  }

  /** Resolves when no pass is running. */
  async settled(): Promise<void> {
    while (this.passes.busy) await this.passes.run();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  private async pass(): Promise<void> {
    const desired = this.desired;
    if (this.stopped || !desired) return;
    const steps = planSteps(
      {
        desired,
        serving: this.serving,
        cached: this.cached,
        abandoned: this.abandoned,
        reported: this.reported,
      },
      this.deps.limits,
    );
    if (steps.length === 0) return;
    let current: StepAction = steps[0].action;
    try {
      if (steps.some((s) => s.action === "load"))
        this.send("applying", desired.generation, "download");
      for (const step of steps) {
        if (this.stopped || this.desired !== desired) return; // a newer generation re-plans
        current = step.action;
        await this.execute(step, desired);
      }
      this.failure = undefined;
    } catch (err) {
      this.fail(desired.generation, current, err);
    }
  }

  private async execute(step: Step, desired: DesiredState): Promise<void> {
    const a = desired.assignment!;
    const target = (): Installed => ({
      generation: desired.generation,
      manifest: a.manifest,
      signature: a.signature,
      options: a.options,
    });
    switch (step.action) {
      case "refuse":
        throw new PermanentError(step.reason);
      case "verifyManifest":
        this.verifyManifest(target());
        return;
      case "download":
        if (this.deps.download) await this.fetchChecked(step.digest);
        this.cached.add(step.digest);
        return;
      case "verifyArtifact":
        return; // checked while downloading
      case "load": {
        const { model, random } = this.deps;
        await sleep(model.applyMs * random.logNormal(model.latencySpread));
        const v = model.variant(a.manifest.variant.name);
        if (v.applyFailureRate > 0 && random.next() < v.applyFailureRate) {
          throw new PermanentError(`simulated: ${a.manifest.variant.name} failed to load`);
        }
        return;
      }
      case "warmUp":
        return;
      case "swap": {
        // The canary is evaluated on the loaded variant before it answers requests.
        const canary = a.canary ? await this.evaluate(a.canary, a.manifest.variant.name) : null;
        if (this.serving?.manifest.digest !== a.manifest.digest) this.previous = this.serving;
        this.serving = target();
        this.canary = canary && { generation: desired.generation, ...canary };
        this.applied++;
        return;
      }
      case "unload":
        this.previous = this.serving;
        this.serving = null;
        this.canary = null;
        return;
      case "report":
        this.send(step.phase, desired.generation);
        return;
    }
  }

  private verifyManifest(t: Installed): void {
    if (!this.deps.pinnedKey) {
      throw new PermanentError("no artifact signing key is pinned: register the device again");
    }
    try {
      verifySignedManifest(t.manifest, t.signature, this.deps.pinnedKey);
    } catch (err) {
      throw new PermanentError(`manifest refused: ${(err as Error).message}`);
    }
  }

  private async fetchChecked(digest: string): Promise<void> {
    const hash = createHash("sha256");
    try {
      await this.deps.download!(digest, (chunk) => void hash.update(chunk));
    } catch (err) {
      throw new TransientError((err as Error).message);
    }
    const got = hash.digest("hex");
    if (got !== digest) throw new Error(`artifact bytes hash to ${got}, not ${digest}`);
  }

  /** Top-1 on the canary set: correct answers drawn from the variant's canary accuracy. */
  private async evaluate(
    c: { digest: string; samples: number },
    variantName: string,
  ): Promise<CanaryResult> {
    if (this.deps.download) await this.fetchChecked(c.digest);
    const accuracy = this.deps.model.variant(variantName).canaryAccuracy;
    return {
      digest: c.digest,
      samples: c.samples,
      correct: this.deps.random.binomial(c.samples, accuracy),
    };
  }

  private fail(generation: number, step: StepAction, err: unknown): void {
    const message = `${step}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 900);
    const f =
      this.failure?.generation === generation
        ? this.failure
        : { generation, attempts: 0, transient: 0 };
    this.failure = f;
    if (err instanceof TransientError) f.transient++;
    else f.attempts++;
    const giveUp = err instanceof PermanentError || f.attempts >= (this.deps.maxAttempts ?? 3);
    this.failed++;
    if (giveUp) {
      this.abandoned.add(generation);
      this.send("failed", generation, undefined, `${message}; gave up on generation ${generation}`);
      return;
    }
    this.send("failed", generation, undefined, `${message}; retrying`);
    const delay = backoffDelay(
      f.attempts + f.transient - 1,
      { baseMs: 500, maxMs: 60_000 },
      this.deps.random.next(),
    );
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.trigger(), delay);
  }

  private send(phase: ReconcilePhase, generation: number, step?: string, error?: string): void {
    const s = this.serving;
    this.reported = { generation, phase };
    const canary =
      phase === "applied" && this.canary && this.canary.generation === s?.generation
        ? { digest: this.canary.digest, samples: this.canary.samples, correct: this.canary.correct }
        : undefined;
    this.deps.report({
      type: "state",
      sentAt: Date.now(),
      generation,
      phase,
      ...(step ? { step } : {}),
      serving: s
        ? { generation: s.generation, variantId: s.manifest.variant.id, digest: s.manifest.digest }
        : null,
      ...(error ? { error } : {}),
      ...(canary ? { canary } : {}),
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
