// The rollout controller: while this process holds the lease, it moves running rollouts wave by
// wave. Each tick, per rollout: admit late joiners, assign the wave's pending devices (at the
// strategy's rate), follow their reports, read the wave's telemetry, ask the pure gates
// (@edgefleet/rollout evaluateWave) and act on the verdict: wait, advance, or halt and put the
// wave's devices back on what they ran before. Rolled-back rollouts have every device they moved
// put back. All state lives in Postgres, so a controller that takes over resumes where the last
// one stopped; every write is fenced by the lease.
import { decodeCanarySet } from "@edgefleet/artifact";
import {
  type DeviceReportedState,
  type Fence,
  FencedError,
  type Repos,
  type Rollout,
  type RollupRecord,
  type TargetRow,
} from "@edgefleet/db";
import { type Assignment, artifactManifestSchema } from "@edgefleet/protocol";
import {
  type ClassObservation,
  evaluateWave,
  type GatesConfig,
  type RolloutState,
  type RolloutStrategy,
  strategySchema,
  type TargetObservation,
  type WaveVerdict,
} from "@edgefleet/rollout";
import { fromStoredRollup, LatencySketch } from "@edgefleet/telemetry";
import type { Logger } from "pino";
import type { AssignmentService } from "../services/assignment-service";
import type { ArtifactStore } from "../services/dispatch-ports";
import { loadPlanningInputs, planDevices, policySchema } from "../services/plan-service";
import type { RolloutService } from "../services/rollout-service";
import type { LeaseKeeper } from "./lease";

export interface RolloutControllerDeps {
  repos: Pick<
    Repos,
    "rollouts" | "dispatch" | "telemetry" | "catalog" | "devices" | "profiles" | "latency" | "audit"
  >;
  assignments: Pick<AssignmentService, "writeMany" | "signedAssignment" | "announce">;
  rollouts: Pick<RolloutService, "publish" | "get">;
  artifacts: Pick<ArtifactStore, "get">;
  lease: Pick<LeaseKeeper, "current">;
  logger: Logger;
  tickMs?: number;
  /** Devices whose desired state is written in one transaction (default 500). */
  batchSize?: number;
  now?: () => Date;
}

// A halted rollout stays here so that a revert cut short (a crash between storing the halt and
// writing the wave's devices back) is finished by the next tick; a finished revert finds nothing.
const ACTIVE: RolloutState[] = ["running", "completed", "halted", "rolled_back"];

export class RolloutController {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private readonly published = new Map<string, string>();
  private readonly assignmentCache = new Map<string, Assignment>();
  private readonly canaries = new Map<string, Assignment["canary"]>();
  /** Per rollout: its devices' classes, read once (a class changed mid-rollout is not seen). */
  private readonly deviceClasses = new Map<string, Map<string, string | null>>();
  private readonly now: () => Date;
  /** Rollouts adopted under the lease epoch this process holds (see adopt). */
  private adopted = { epoch: -1, rollouts: new Set<string>() };

  constructor(private readonly deps: RolloutControllerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  start(): void {
    this.timer = setInterval(() => this.poke(), this.deps.tickMs ?? 1_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  /** Runs a tick now (merged with one in progress). */
  poke(): void {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.loop().finally(() => {
      this.ticking = undefined;
    });
  }

  /** One tick, for tests and benchmarks. */
  async tick(): Promise<void> {
    const fence = this.deps.lease.current();
    if (!fence) return;
    for (const r of await this.deps.repos.rollouts.inState(ACTIVE)) {
      try {
        if (r.state === "rolled_back") await this.revert(r, fence, undefined);
        else if (r.state === "halted") await this.revert(r, fence, r.currentWave);
        else await this.step(r, fence);
      } catch (err) {
        if (err instanceof FencedError) {
          this.deps.logger.warn({ err: err.message }, "lease lost mid-tick: stopping");
          return;
        }
        this.deps.logger.error({ err, rollout: r.id }, "rollout step failed");
      }
    }
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      await this.tick().catch((err) => this.deps.logger.error({ err }, "rollout tick failed"));
    } while (this.again);
  }

  /**
   * Once per rollout after taking the lease: its assigned targets are announced again. The
   * previous holder may have died after writing their desired state and before telling the
   * devices (or before they read it); without this they would wait for a notice that never comes
   * and the wave for reports that never come. Targets it assigned in Postgres but never marked
   * are still pending and get assigned again, with a newer generation.
   */
  private async adopt(r: Rollout, fence: Fence): Promise<void> {
    if (this.adopted.epoch !== fence.epoch)
      this.adopted = { epoch: fence.epoch, rollouts: new Set() };
    if (this.adopted.rollouts.has(r.id)) return;
    const assigned = await this.deps.repos.rollouts.targetStates(r.id, { states: ["assigned"] });
    this.deps.assignments.announce(
      assigned.flatMap((t) =>
        t.generation === null ? [] : [{ deviceId: t.deviceId, generation: t.generation }],
      ),
    );
    this.adopted.rollouts.add(r.id);
    if (assigned.length > 0)
      this.deps.logger.info(
        { rollout: r.id, targets: assigned.length },
        "adopted assigned targets",
      );
  }

  private async step(r: Rollout, fence: Fence): Promise<void> {
    await this.adopt(r, fence);
    const strategy = strategySchema.parse(r.strategy);
    await this.admitLateJoiners(r, fence);
    const found = await this.deps.repos.rollouts.find(r.id);
    if (!found) return;
    const lastWave = Math.max(0, ...Object.keys(found.counts).map(Number));
    if (r.state === "completed") {
      // Late joiners of a finished rollout get its assignment straight away.
      const pending = await this.deps.repos.rollouts.targetStates(r.id, { states: ["pending"] });
      await this.assign(r, pending, strategy, fence);
      await this.deps.repos.rollouts.followReports(r.id, fence);
      return;
    }
    let targets = await this.deps.repos.rollouts.targetStates(r.id, { wave: r.currentWave });
    // A running wave has no rolled-back targets, unless a halt's revert was still writing when an
    // operator resumed (resume re-pends what was back by then): the resumed wave retries them too.
    const late = targets.filter((t) => t.state === "rolled-back");
    if (late.length > 0) {
      await this.deps.repos.rollouts.setTargetStates(
        r.id,
        late.map((t) => ({ deviceId: t.deviceId, state: "pending" })),
        fence,
      );
      targets = targets.map((t) => (t.state === "rolled-back" ? { ...t, state: "pending" } : t));
    }
    const budget = Math.max(
      1,
      Math.ceil((strategy.maxPerSecond * (this.deps.tickMs ?? 1_000)) / 1000),
    );
    const pending = targets.filter((t) => t.state === "pending");
    if (pending.length > 0) await this.assign(r, pending.slice(0, budget), strategy, fence);
    const moved = await this.deps.repos.rollouts.followReports(r.id, fence);
    if (pending.length > 0 || moved > 0)
      targets = await this.deps.repos.rollouts.targetStates(r.id, { wave: r.currentWave });
    let waveStartedAt = r.waveStartedAt;
    if (!waveStartedAt && targets.every((t) => t.state !== "pending")) {
      waveStartedAt = this.now();
      await this.deps.repos.rollouts.update(r.id, { waveStartedAt }, fence);
    }
    const verdict = await this.judge(r, targets, waveStartedAt, strategy);
    if (verdict.verdict === "halt") {
      await this.deps.repos.rollouts.update(
        r.id,
        { state: "halted", haltReason: verdict.reason, gates: verdict.gates as never },
        fence,
      );
      await this.audit(r.id, "rollout.halted", { wave: r.currentWave + 1, reason: verdict.reason });
      this.deps.logger.warn({ rollout: r.id, reason: verdict.reason }, "rollout halted");
      this.deviceClasses.delete(r.id);
      await this.revert(r, fence, r.currentWave);
    } else if (verdict.verdict === "advance") {
      const done = r.currentWave >= lastWave;
      await this.deps.repos.rollouts.update(
        r.id,
        done
          ? { state: "completed", gates: verdict.gates as never }
          : { currentWave: r.currentWave + 1, waveStartedAt: null, gates: verdict.gates as never },
        fence,
      );
      if (done) this.deviceClasses.delete(r.id);
      await this.audit(r.id, done ? "rollout.completed" : "rollout.wave_passed", {
        wave: r.currentWave + 1,
      });
    } else {
      await this.deps.repos.rollouts.update(r.id, { gates: verdict.gates as never }, fence);
    }
    await this.publishIfChanged(r.id);
  }

  /** Writes desired state for each target (the rollout's variant, shadow and canary). */
  private async assign(
    r: Rollout,
    targets: TargetRow[],
    strategy: RolloutStrategy,
    fence: Fence,
  ): Promise<void> {
    const live = targets.filter((t) => t.variantId !== null);
    if (live.length === 0) return;
    const before = await this.deps.repos.dispatch.assignmentsOf(live.map((t) => t.deviceId));
    await inBatches(live, this.deps.batchSize ?? 500, async (batch) => {
      const writes = await Promise.all(
        batch.map(async (t) => ({
          deviceId: t.deviceId,
          variantId: t.variantId,
          assignment: await this.assignmentFor(r, t.variantId as string, strategy.gates),
          actor: `rollout:${r.id}`,
          rolloutId: r.id,
        })),
      );
      const rows = await this.deps.assignments.writeMany(writes, fence);
      await this.deps.repos.rollouts.setTargetStates(
        r.id,
        rows.map((row) => ({
          deviceId: row.deviceId,
          state: "assigned",
          generation: row.generation,
          previousVariantId: before.get(row.deviceId)?.variantId ?? null,
        })),
        fence,
      );
    });
  }

  /** Gathers what the gates judge: reports, canary results, telemetry since the wave began. */
  private async judge(
    r: Rollout,
    targets: TargetRow[],
    waveStartedAt: Date | null,
    strategy: RolloutStrategy,
  ): Promise<WaveVerdict> {
    const policy = policySchema.parse(r.policy);
    const model = await this.deps.repos.catalog.findModel(r.modelId);
    const metric =
      (model?.inputShape as { metric?: string } | undefined)?.metric === "fidelity"
        ? "fidelity"
        : "accuracy";
    const live = targets.filter((t) => t.state !== "skipped" && t.state !== "superseded");
    const classes = await this.classesOf(
      r.id,
      live.map((t) => t.deviceId),
    );
    // Reports matter only for canary results: the targets' states already say applied or failed.
    const reported = r.canaryDigest
      ? await this.deps.repos.dispatch.reportedOf(live.map((t) => t.deviceId))
      : new Map<string, DeviceReportedState>();
    const variantIds = [...new Set(live.flatMap((t) => (t.variantId ? [t.variantId] : [])))];
    const promised = new Map<string, number>();
    for (const id of variantIds) {
      const v = await this.deps.repos.catalog.findVariant(id);
      promised.set(id, v?.accuracy ?? 0);
    }
    const from = waveStartedAt ?? this.now();
    const rows = waveStartedAt
      ? await this.deps.repos.telemetry.rollups({
          deviceIds: live.map((t) => t.deviceId),
          variantIds,
          from: new Date(Math.floor(from.getTime() / 60_000) * 60_000),
          to: new Date(this.now().getTime() + 60_000),
        })
      : [];
    const wanted = new Map(live.map((t) => [t.deviceId, t.variantId]));
    const byDevice = new Map<string, RollupRecord[]>();
    for (const row of rows) {
      if (wanted.get(row.deviceId) !== row.variantId) continue;
      const list = byDevice.get(row.deviceId);
      if (list) list.push(row);
      else byDevice.set(row.deviceId, [row]);
    }
    const q = strategy.gates.latency.quantile;
    const observations: TargetObservation[] = live.map((t) => {
      const mine = byDevice.get(t.deviceId) ?? [];
      const rep = reported.get(t.deviceId);
      const canary =
        rep &&
        rep.generation === t.generation &&
        rep.canaryDigest &&
        rep.canaryDigest === r.canaryDigest &&
        rep.canarySamples !== null &&
        rep.canaryCorrect !== null
          ? { samples: rep.canarySamples, correct: rep.canaryCorrect }
          : undefined;
      return {
        deviceId: t.deviceId,
        deviceClass: classes.get(t.deviceId) ?? null,
        state: t.state as TargetObservation["state"],
        ...(canary ? { canary } : {}),
        promisedAccuracy: promised.get(t.variantId ?? "") ?? 0,
        requests: sum(mine, (m) => m.requests),
        errors: sum(mine, (m) => m.errors),
        quantileMs: merged(mine)?.quantile(q) ?? null,
        shadowCompared: sum(mine, (m) => m.shadowCompared),
        shadowAgreed: sum(mine, (m) => m.shadowAgreed),
      };
    });
    const byClass = new Map<string | null, RollupRecord[]>();
    for (const t of observations) {
      const list = byClass.get(t.deviceClass) ?? [];
      list.push(...(byDevice.get(t.deviceId) ?? []));
      byClass.set(t.deviceClass, list);
    }
    const classObs: ClassObservation[] = [...byClass].map(([deviceClass, list]) => ({
      deviceClass,
      requests: sum(list, (m) => m.requests),
      errors: sum(list, (m) => m.errors),
      quantileMs: merged(list)?.quantile(q) ?? null,
    }));
    return evaluateWave(
      {
        wave: r.currentWave,
        targets: observations,
        classes: classObs,
        bakeElapsedMs: waveStartedAt ? this.now().getTime() - waveStartedAt.getTime() : null,
        bakeMs: strategy.bakeSeconds * 1000,
        sloMs: policy.latencySloMs,
        metric,
        canarySet: r.canaryDigest !== null,
      },
      strategy.gates,
    );
  }

  /**
   * Puts devices back on what they ran before the rollout: those of one wave (a halt), or all of
   * them (a roll back). Targets already back, never assigned, or taken over by a later assignment
   * are left alone.
   */
  private async revert(r: Rollout, fence: Fence, wave: number | undefined): Promise<void> {
    const targets = await this.deps.repos.rollouts.targetStates(r.id, {
      ...(wave !== undefined ? { wave } : {}),
      states: ["assigned", "applied", "failed"],
    });
    if (targets.length === 0) return;
    const assignments = await this.deps.repos.dispatch.assignmentsOf(
      targets.map((t) => t.deviceId),
    );
    // Someone assigned a device since the rollout did: theirs stands.
    const superseded = targets.filter((t) => {
      const current = assignments.get(t.deviceId);
      return current && t.generation !== null && current.generation !== t.generation;
    });
    await this.deps.repos.rollouts.setTargetStates(
      r.id,
      superseded.map((t) => ({ deviceId: t.deviceId, state: "superseded" })),
      fence,
    );
    const skip = new Set(superseded.map((t) => t.deviceId));
    const signed = new Map<string, Assignment>();
    await inBatches(
      targets.filter((t) => !skip.has(t.deviceId)),
      this.deps.batchSize ?? 500,
      async (batch) => {
        const writes = [];
        for (const t of batch) {
          const previous = t.previousVariantId;
          let assignment: Assignment | null = null;
          if (previous) {
            assignment = signed.get(previous) ?? null;
            if (!assignment) {
              assignment = await this.deps.assignments.signedAssignment(previous);
              signed.set(previous, assignment);
            }
          }
          writes.push({
            deviceId: t.deviceId,
            variantId: previous,
            assignment,
            actor: `rollout:${r.id}`,
            rolloutId: r.id,
          });
        }
        await this.deps.assignments.writeMany(writes, fence);
        await this.deps.repos.rollouts.setTargetStates(
          r.id,
          batch.map((t) => ({ deviceId: t.deviceId, state: "rolled-back" })),
          fence,
        );
      },
    );
    await this.audit(r.id, "rollout.devices_reverted", {
      devices: targets.length,
      ...(wave !== undefined ? { wave: wave + 1 } : {}),
    });
    await this.publishIfChanged(r.id);
  }

  /** Devices that joined since: planned, and added to the wave in progress (or the last one). */
  private async admitLateJoiners(r: Rollout, fence: Fence): Promise<void> {
    const fresh = await this.deps.repos.rollouts.selectDevices(r.selector as never, {
      notInRollout: r.id,
      limit: 1_000,
    });
    if (fresh.length === 0) return;
    const inputs = await loadPlanningInputs(
      this.deps.repos,
      r.modelId,
      fresh.map((d) => d.id),
    );
    // A device that has not profiled itself yet is looked at again on a later tick.
    const ready = fresh.filter((d) => inputs.caps.has(d.id));
    if (ready.length === 0) return;
    const decisions = planDevices(inputs, ready, policySchema.parse(r.policy));
    const found = await this.deps.repos.rollouts.find(r.id);
    const lastWave = Math.max(0, ...Object.keys(found?.counts ?? {}).map(Number));
    const wave = r.state === "running" ? r.currentWave : lastWave;
    await this.deps.repos.rollouts.addTargets(
      r.id,
      decisions.map((d) => ({
        deviceId: d.deviceId,
        wave,
        variantId: d.variantId,
        reasons: d.reasons,
        state: d.ok ? "pending" : "skipped",
        joinedLate: true,
      })),
      fence,
    );
    this.deps.logger.info({ rollout: r.id, devices: decisions.length }, "late joiners admitted");
  }

  private async classesOf(rolloutId: string, ids: string[]) {
    let known = this.deviceClasses.get(rolloutId);
    if (!known) {
      known = new Map();
      this.deviceClasses.set(rolloutId, known);
    }
    const missing = ids.filter((id) => !known.has(id));
    if (missing.length > 0) {
      for (const d of await this.deps.repos.rollouts.selectDevices({ deviceIds: missing }))
        known.set(d.id, d.deviceClass);
    }
    return known;
  }

  private async assignmentFor(r: Rollout, variantId: string, gates: GatesConfig) {
    const key = `${r.id}/${variantId}`;
    let a = this.assignmentCache.get(key);
    if (!a) {
      a = await this.deps.assignments.signedAssignment(
        variantId,
        {},
        {
          shadow: gates.agreement.enabled ? { sampleRate: gates.agreement.sampleRate } : null,
          canary: await this.canaryOf(r),
        },
      );
      artifactManifestSchema.parse(a.manifest);
      this.assignmentCache.set(key, a);
    }
    return a;
  }

  private async canaryOf(r: Rollout): Promise<Assignment["canary"]> {
    if (!r.canaryDigest) return null;
    if (!this.canaries.has(r.id)) {
      const bytes = await this.deps.artifacts.get(r.canaryDigest);
      if (!bytes) throw new Error(`canary set ${r.canaryDigest} is not in the artifact store`);
      const set = decodeCanarySet(bytes);
      this.canaries.set(r.id, {
        digest: r.canaryDigest,
        sizeBytes: bytes.length,
        samples: set.samples,
      });
    }
    return this.canaries.get(r.id) ?? null;
  }

  private async publishIfChanged(id: string): Promise<void> {
    const view = await this.deps.rollouts.get(id);
    const key = JSON.stringify([
      view.state,
      view.currentWave,
      view.waves,
      view.gates,
      view.haltReason,
    ]);
    if (this.published.get(id) === key) return;
    this.published.set(id, key);
    await this.deps.rollouts.publish(id);
  }

  private audit(id: string, action: string, data: Record<string, unknown>) {
    return this.deps.repos.audit.append({
      actor: "controller:rollout",
      action,
      subjectType: "rollout",
      subjectId: id,
      data: data as never,
    });
  }
}

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  let s = 0;
  for (const i of items) s += f(i);
  return s;
}

/** The end-to-end latency sketch of several rollup rows, merged (null without data). */
function merged(rows: readonly RollupRecord[]): LatencySketch | null {
  let out: LatencySketch | null = null;
  for (const row of rows) {
    const latency = fromStoredRollup(row).latency;
    if (!latency) continue;
    if (!out) out = new LatencySketch();
    out.merge(latency);
  }
  return out;
}

/** Runs `fn` over `items`, at most `n` at a time. */
async function inBatches<T>(items: readonly T[], n: number, fn: (batch: T[]) => Promise<void>) {
  for (let i = 0; i < items.length; i += n) await fn(items.slice(i, i + n));
}
