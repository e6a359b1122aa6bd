// Rollouts as operators drive them: create (a plan per device, in waves; a dry run stops there),
// get, list, and the transitions (start, pause, resume, abort, roll back), each audited with who
// and why. The rollout controller (../controllers/rollout-controller.ts) does the moving.
import { decodeCanarySet } from "@edgefleet/artifact";
import type { Repos, Rollout, RolloutWithCounts } from "@edgefleet/db";
import { MEDIA_TYPES, sha256HexSchema } from "@edgefleet/protocol";
import type {
  RetargetMovesView,
  RolloutDryRunView,
  RolloutListView,
  RolloutTargetsView,
  RolloutView,
} from "@edgefleet/protocol/rest";
import {
  assignWaves,
  type GateReading,
  type RolloutAction,
  type RolloutState,
  RolloutTransitionError,
  strategySchema,
  transition,
} from "@edgefleet/rollout";
import { z } from "zod";
import { ConflictError, InvalidArgumentError, NotFoundError } from "../errors";
import type { FleetEvents } from "../fleet-events";
import { type Principal, requireRole } from "./auth-service";
import type { ArtifactStore } from "./dispatch-ports";
import { loadPlanningInputs, planDevices, policySchema, selectorSchema } from "./plan-service";
import { parseInput } from "./validation";

export type { RolloutView };

export const createRolloutSchema = z.object({
  modelId: z.string().uuid("must be a model id (uuid)"),
  name: z.string().min(1).max(100).default("rollout"),
  selector: selectorSchema.default({}),
  policy: policySchema,
  strategy: strategySchema.default(strategySchema.parse({})),
  /** An uploaded EFCS canary set the devices evaluate the new variant on. */
  canaryDigest: sha256HexSchema.optional(),
  /** true: the plan per device and the waves, nothing stored or moved. */
  dryRun: z.boolean().default(false),
});

const actionSchema = z.object({ reason: z.string().max(500).default("") });

export class RolloutService {
  constructor(
    private readonly deps: {
      repos: Pick<Repos, "rollouts" | "catalog" | "profiles" | "latency" | "audit" | "devices">;
      artifacts: Pick<ArtifactStore, "get">;
      events: FleetEvents;
      /** Called after a transition, so the controller acts without waiting for its next tick. */
      poke?: () => void;
    },
  ) {}

  async create(principal: Principal, body: unknown): Promise<RolloutView | RolloutDryRunView> {
    requireRole(principal, "operator");
    const input = parseInput(createRolloutSchema, body);
    const model = await this.deps.repos.catalog.findModel(input.modelId);
    if (!model) throw new NotFoundError(`model ${input.modelId} not found`);
    if (input.canaryDigest) await this.checkCanary(input.canaryDigest, model.inputShape);
    const devices = await this.deps.repos.rollouts.selectDevices(input.selector);
    const inputs = await loadPlanningInputs(
      this.deps.repos,
      model.id,
      devices.map((d) => d.id),
    );
    const decisions = planDevices(inputs, devices, input.policy);
    const waves = assignWaves(
      decisions.map((d) => ({ id: d.deviceId, deviceClass: d.deviceClass })),
      input.strategy.waves,
    );
    const targets = decisions.map((d) => ({
      deviceId: d.deviceId,
      wave: waves.get(d.deviceId) ?? 0,
      variantId: d.variantId,
      reasons: d.reasons,
      state: d.ok ? "pending" : "skipped",
    }));
    if (input.dryRun) {
      return {
        dryRun: true,
        waves: [...new Set(targets.map((t) => t.wave))]
          .sort((a, b) => a - b)
          .map((wave) => ({
            wave: wave + 1,
            devices: decisions
              .filter((d) => waves.get(d.deviceId) === wave)
              .map((d) => ({
                deviceId: d.deviceId,
                deviceName: d.deviceName,
                deviceClass: d.deviceClass,
                variantName: d.variantName,
                predictedLatencyMs: d.predictedLatencyMs,
                reasons: d.reasons,
              })),
          })),
      };
    }
    const actor = `apitoken:${principal.tokenId}`;
    const row = await this.deps.repos.rollouts.create(
      {
        modelId: model.id,
        name: input.name,
        selector: input.selector,
        policy: input.policy,
        strategy: input.strategy as never,
        canaryDigest: input.canaryDigest ?? null,
        createdBy: actor,
      },
      targets,
    );
    await this.audit(actor, "rollout.created", row.id, {
      modelId: model.id,
      devices: targets.length,
      skipped: targets.filter((t) => t.state === "skipped").length,
    });
    return this.publish(row.id);
  }

  async get(id: string): Promise<RolloutView> {
    const row = await this.deps.repos.rollouts.find(id);
    if (!row) throw new NotFoundError(`rollout ${id} not found`);
    return rolloutView(row);
  }

  async list(): Promise<RolloutListView> {
    const rows = await this.deps.repos.rollouts.list();
    return {
      items: rows.map((r) => ({
        id: r.id,
        name: r.name,
        modelId: r.modelId,
        state: r.state,
        currentWave: r.currentWave + 1,
        haltReason: r.haltReason,
        createdAt: r.createdAt.toISOString(),
      })),
    };
  }

  async targets(id: string, rawQuery: unknown): Promise<RolloutTargetsView> {
    const q = parseInput(
      z.object({
        wave: z.coerce.number().int().min(1).optional(),
        state: z.string().max(20).optional(),
      }),
      rawQuery,
    );
    const row = await this.deps.repos.rollouts.find(id);
    if (!row) throw new NotFoundError(`rollout ${id} not found`);
    const items = await this.deps.repos.rollouts.targets(id, {
      ...(q.wave ? { wave: q.wave - 1 } : {}),
      ...(q.state ? { states: [q.state] } : {}),
    });
    return {
      items: items.map((t) => ({
        deviceId: t.deviceId,
        deviceName: t.device.name,
        wave: t.wave + 1,
        variantId: t.variantId,
        state: t.state,
        reasons: t.reasons,
        generation: t.generation,
        previousVariantId: t.previousVariantId,
        joinedLate: t.joinedLate,
      })),
    };
  }

  /** A device's re-targeting history, newest first: each move with its reasons. */
  async moves(deviceId: string): Promise<RetargetMovesView> {
    const device = await this.deps.repos.devices.findById(deviceId);
    if (!device) throw new NotFoundError(`device ${deviceId} not found`);
    const moves = await this.deps.repos.rollouts.moves(deviceId);
    return {
      items: moves.map((m) => ({
        at: m.at.toISOString(),
        action: m.action,
        fromVariantId: m.fromVariantId,
        toVariantId: m.toVariantId,
        reason: m.reason,
        measuredMs: m.measuredMs,
        sloMs: m.sloMs,
        rolloutId: m.rolloutId,
      })),
    };
  }

  /** start, pause, resume, abort, rollback: audited with who and why. */
  async control(
    principal: Principal,
    id: string,
    action: RolloutAction,
    body: unknown,
  ): Promise<RolloutView> {
    requireRole(principal, "operator");
    const { reason } = parseInput(actionSchema, body ?? {});
    const row = await this.deps.repos.rollouts.find(id);
    if (!row) throw new NotFoundError(`rollout ${id} not found`);
    let next: RolloutState;
    try {
      next = transition(row.state as RolloutState, action);
    } catch (err) {
      if (err instanceof RolloutTransitionError) throw new ConflictError(err.message);
      throw err;
    }
    if (action === "resume" && row.state === "halted") {
      // A resumed halt retries the wave it stopped at.
      const resumed = await this.deps.repos.rollouts.resumeHalted(id);
      if (!resumed) throw new ConflictError(`rollout ${id} is no longer halted`);
    } else {
      await this.deps.repos.rollouts.update(id, { state: next });
    }
    await this.audit(`apitoken:${principal.tokenId}`, `rollout.${action}`, id, {
      from: row.state,
      to: next,
      ...(reason ? { reason } : {}),
    });
    this.deps.poke?.();
    return this.publish(id);
  }

  /** Pushes the rollout's current view to live clients and returns it. */
  async publish(id: string): Promise<RolloutView> {
    const view = await this.get(id);
    this.deps.events.publish({
      type: "rollout.updated",
      deviceId: "",
      rolloutId: id,
      at: new Date().toISOString(),
      data: view as unknown as Record<string, unknown>,
    });
    return view;
  }

  private async checkCanary(digest: string, inputShape: unknown) {
    const field = "canaryDigest";
    const artifact = await this.deps.repos.catalog.findArtifact(digest);
    if (!artifact)
      throw new InvalidArgumentError(field, "is not uploaded (PUT /api/v1/artifacts/<sha256>)");
    if (artifact.mediaType !== MEDIA_TYPES.canary) {
      throw new InvalidArgumentError(field, `is ${artifact.mediaType}, not a canary set (EFCS)`);
    }
    const bytes = await this.deps.artifacts.get(digest);
    if (!bytes) throw new InvalidArgumentError(field, "is not in the artifact store");
    let set: ReturnType<typeof decodeCanarySet>;
    try {
      set = decodeCanarySet(bytes);
    } catch (err) {
      throw new InvalidArgumentError(field, (err as Error).message);
    }
    const want = (inputShape as { sampleDims?: number[] }).sampleDims ?? [];
    if (want.join(",") !== set.sampleDims.join(",")) {
      throw new InvalidArgumentError(
        field,
        `samples are [${set.sampleDims.join(", ")}], the model takes [${want.join(", ")}]`,
      );
    }
  }

  private audit(actor: string, action: string, id: string, data: Record<string, unknown>) {
    return this.deps.repos.audit.append({
      actor,
      action,
      subjectType: "rollout",
      subjectId: id,
      data: data as never,
    });
  }
}

export function rolloutView(r: RolloutWithCounts | (Rollout & { counts?: never })): RolloutView {
  const counts = (r as RolloutWithCounts).counts ?? {};
  const waves = Object.keys(counts)
    .map(Number)
    .sort((a, b) => a - b)
    .map((w) => ({
      wave: w + 1,
      devices: Object.values(counts[w]).reduce((a, b) => a + b, 0),
      states: counts[w],
    }));
  return {
    id: r.id,
    name: r.name,
    modelId: r.modelId,
    state: r.state as RolloutState,
    currentWave: r.currentWave + 1,
    waves,
    gates: (r.gates ?? []) as unknown as GateReading[],
    haltReason: r.haltReason,
    selector: r.selector,
    policy: r.policy,
    strategy: r.strategy,
    canaryDigest: r.canaryDigest,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
