// Closed-loop re-targeting: after a rollout completed, a device whose field latency drifts over
// its SLO (or back well under it) is re-planned with field-corrected predictions and moved to
// another variant. The decision is the planner's pure `decideRetarget` (margins and cool-downs so a
// device near its SLO does not flap); every move is stored with its reasons, audited, pushed to
// live clients. Runs under the same lease as the rollout controller, fenced the same way.
import { type Fence, FencedError, type Repos, type RollupRecord } from "@edgefleet/db";
import { decideRetarget, type HysteresisOptions } from "@edgefleet/planner";
import { fromStoredRollup, LatencySketch } from "@edgefleet/telemetry";
import type { Logger } from "pino";
import type { FleetEvents } from "../fleet-events";
import type { AssignmentService } from "../services/assignment-service";
import { loadPlanningInputs, policySchema } from "../services/plan-service";
import type { LeaseKeeper } from "./lease";

export interface RetargetControllerDeps {
  repos: Pick<
    Repos,
    "rollouts" | "dispatch" | "telemetry" | "catalog" | "profiles" | "latency" | "audit"
  >;
  assignments: Pick<AssignmentService, "write" | "signedAssignment">;
  events: FleetEvents;
  lease: Pick<LeaseKeeper, "current">;
  logger: Logger;
  /** How often devices are looked at (default 30 s). */
  everyMs?: number;
  /** The window of field latency judged (default 2 minutes). */
  windowMs?: number;
  hysteresis?: Partial<HysteresisOptions>;
  /**
   * Which completed rollouts it looks after (default: every one). The re-targeting benchmark
   * leaves one rollout alone this way, as its control arm.
   */
  include?: (rollout: { id: string; name: string }) => boolean;
  now?: () => Date;
}

export interface RetargetResult {
  looked: number;
  moved: number;
}

export class RetargetController {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly now: () => Date;

  constructor(private readonly deps: RetargetControllerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick()
        .catch((err) => this.deps.logger.error({ err }, "re-targeting failed"))
        .finally(() => {
          this.running = undefined;
        });
    }, this.deps.everyMs ?? 30_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Looks at every device of every completed rollout once. */
  async tick(): Promise<RetargetResult> {
    const fence = this.deps.lease.current();
    const result = { looked: 0, moved: 0 };
    if (!fence) return result;
    for (const r of await this.deps.repos.rollouts.inState(["completed"])) {
      if (this.deps.include && !this.deps.include(r)) continue;
      try {
        const one = await this.rollout(r.id, r.modelId, r.policy, fence);
        result.looked += one.looked;
        result.moved += one.moved;
      } catch (err) {
        if (err instanceof FencedError) return result;
        throw err;
      }
    }
    return result;
  }

  private async rollout(
    rolloutId: string,
    modelId: string,
    rawPolicy: unknown,
    fence: Fence,
  ): Promise<RetargetResult> {
    const policy = policySchema.parse(rawPolicy);
    const targets = await this.deps.repos.rollouts.targets(rolloutId, { states: ["applied"] });
    if (targets.length === 0) return { looked: 0, moved: 0 };
    const deviceIds = targets.map((t) => t.deviceId);
    const { assignments } = await this.deps.repos.dispatch.statesOf(deviceIds);
    const inputs = await loadPlanningInputs(this.deps.repos, modelId, deviceIds);
    const catalogue = new Set(inputs.variants.map((v) => v.id));
    const now = this.now();
    const windowMs = this.deps.windowMs ?? 120_000;
    const rows = await this.deps.repos.telemetry.rollups({
      deviceIds,
      variantIds: [...catalogue],
      from: new Date(Math.floor((now.getTime() - windowMs) / 60_000) * 60_000),
      to: new Date(now.getTime() + 60_000),
    });
    const byDevice = new Map<string, RollupRecord[]>();
    for (const row of rows)
      byDevice.set(row.deviceId, [...(byDevice.get(row.deviceId) ?? []), row]);

    const lastMoved = await this.deps.repos.rollouts.lastMovedAt(deviceIds);
    let moved = 0;
    let looked = 0;
    for (const t of targets) {
      const current = assignments.get(t.deviceId);
      const device = inputs.caps.get(t.deviceId);
      // Only devices still on this model's catalogue, as the rollout (or a move) left them.
      if (!current?.variantId || !catalogue.has(current.variantId) || !device) continue;
      if (current.assignedBy !== `rollout:${rolloutId}` && current.assignedBy !== "retarget")
        continue;
      const mine = (byDevice.get(t.deviceId) ?? []).filter(
        (row) =>
          row.variantId === current.variantId &&
          row.minute.getTime() >= current.updatedAt.getTime() - 60_000,
      );
      const window = latencyWindow(mine);
      if (!window) continue;
      looked++;
      const lastChangeAt = Math.max(
        current.updatedAt.getTime(),
        lastMoved.get(t.deviceId)?.getTime() ?? 0,
      );
      const decision = decideRetarget({
        device,
        variants: inputs.variants,
        policy,
        currentVariantId: current.variantId,
        window,
        lastChangeAt,
        now: now.getTime(),
        correction: inputs.correction,
        hysteresis: this.deps.hysteresis,
      });
      if (decision.action === "keep") continue;
      const assignment = await this.deps.assignments.signedAssignment(decision.toVariantId);
      await this.deps.assignments.write(
        {
          deviceId: t.deviceId,
          variantId: decision.toVariantId,
          assignment,
          actor: "retarget",
          rolloutId,
        },
        fence,
      );
      await this.deps.repos.rollouts.addMove(
        {
          deviceId: t.deviceId,
          rolloutId,
          fromVariantId: decision.fromVariantId,
          toVariantId: decision.toVariantId,
          action: decision.action,
          reason: decision.reason,
          measuredMs: decision.measuredMs,
          sloMs: decision.sloMs,
        },
        fence,
      );
      await this.deps.repos.audit.append({
        actor: "controller:retarget",
        action: `device.${decision.action}`,
        subjectType: "device",
        subjectId: t.deviceId,
        data: { from: decision.fromVariantId, to: decision.toVariantId, reason: decision.reason },
      });
      this.deps.events.publish({
        type: "device.retargeted",
        deviceId: t.deviceId,
        rolloutId,
        at: now.toISOString(),
        data: {
          action: decision.action,
          fromVariantId: decision.fromVariantId,
          toVariantId: decision.toVariantId,
          fromVariantName: inputs.names.get(decision.fromVariantId) ?? null,
          toVariantName: inputs.names.get(decision.toVariantId) ?? null,
          reason: decision.reason,
        },
      });
      this.deps.logger.info(
        { deviceId: t.deviceId, reason: decision.reason },
        "device re-targeted",
      );
      moved++;
    }
    return { looked, moved };
  }
}

/** p95 of end-to-end latency over the rows, with the request count as samples. */
function latencyWindow(rows: readonly RollupRecord[]) {
  const sketch = new LatencySketch();
  let samples = 0;
  for (const row of rows) {
    const latency = fromStoredRollup(row).latency;
    if (!latency) continue;
    sketch.merge(latency);
    samples += latency.count;
  }
  const p95 = sketch.quantile(0.95);
  return p95 === null ? undefined : { measuredMs: p95, samples };
}
