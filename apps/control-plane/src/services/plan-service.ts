// Plans: for each device a selector matches, the planner's choice of variant with its reasons.
// Stored with every decision; a dry run stops there (rollouts act on a plan later).
import type { Device, Repos } from "@edgefleet/db";
import {
  type CorrectionModel,
  type DeviceCapabilities,
  fitCorrection,
  Planner,
  type PlanPolicy,
  type VariantCost,
} from "@edgefleet/planner";
import type { PlanDecisionView, PlanView } from "@edgefleet/protocol/rest";
import { z } from "zod";
import { NotFoundError } from "../errors";
import { type Principal, requireRole } from "./auth-service";
import {
  capabilitiesFromStoredProfile,
  plannerObservations,
  variantCostFromRow,
} from "./plan-inputs";
import { parseInput } from "./validation";

export type { PlanDecisionView };

const MAX_DEVICES = 100_000;
const CORRECTION_WINDOW_MS = 7 * 86_400_000;

/** Which devices: every field narrows (all of them when empty). */
export const selectorSchema = z.object({
  deviceIds: z.array(z.string().uuid()).max(10_000).optional(),
  labels: z.record(z.string().max(64), z.string().max(256)).optional(),
  status: z.enum(["enrolled", "online", "offline"]).optional(),
  deviceClass: z.string().max(64).optional(),
});

export const policySchema = z.object({
  latencySloMs: z.number().positive().max(600_000),
  batch: z.number().int().min(1).max(1024).default(1),
  accuracyFloor: z.number().min(0).max(1).default(0),
  objective: z.enum(["max-accuracy", "min-latency", "min-bytes"]).default("max-accuracy"),
});

export const createPlanSchema = z.object({
  modelId: z.string().uuid("must be a model id (uuid)"),
  selector: selectorSchema.default({}),
  policy: policySchema,
  dryRun: z.boolean().default(true),
});

export class PlanService {
  constructor(
    private readonly deps: {
      repos: Pick<
        Repos,
        "catalog" | "devices" | "profiles" | "plans" | "latency" | "audit" | "rollouts"
      >;
    },
  ) {}

  async createPlan(principal: Principal, body: unknown): Promise<PlanView> {
    requireRole(principal, "operator");
    const input = parseInput(createPlanSchema, body);
    const model = await this.deps.repos.catalog.findModel(input.modelId);
    if (!model) throw new NotFoundError(`model ${input.modelId} not found`);
    const devices = await this.selectDevices(input.selector);
    const inputs = await loadPlanningInputs(
      this.deps.repos,
      model.id,
      devices.map((d) => d.id),
    );
    const decisions = planDevices(inputs, devices, input.policy);

    const plan = await this.deps.repos.plans.create({
      modelId: model.id,
      selector: input.selector,
      policy: input.policy,
      dryRun: input.dryRun,
      decisions: decisions.map((d) => ({
        deviceId: d.deviceId,
        variantId: d.variantId,
        ok: d.ok,
        reasons: d.reasons,
        predictedLatencyMs: d.predictedLatencyMs,
        predictedMemoryBytes: d.predictedMemoryBytes,
      })),
    });
    await this.deps.repos.audit.append({
      actor: `apitoken:${principal.tokenId}`,
      action: "plan.created",
      subjectType: "plan",
      subjectId: plan.id,
      data: { modelId: model.id, devices: decisions.length, dryRun: input.dryRun },
    });
    return {
      planId: plan.id,
      modelId: model.id,
      dryRun: input.dryRun,
      policy: input.policy,
      correction: { observations: inputs.observations },
      summary: summarize(decisions),
      decisions,
    };
  }

  private selectDevices(selector: z.output<typeof createPlanSchema>["selector"]) {
    // The database selects (labels by JSON containment); the fleet is never paged into memory.
    return this.deps.repos.rollouts.selectDevices(selector, { limit: MAX_DEVICES });
  }
}

function unplannable(
  d: Pick<Device, "id" | "name" | "deviceClass">,
  reason: string,
): PlanDecisionView {
  return {
    deviceId: d.id,
    deviceName: d.name,
    deviceClass: d.deviceClass,
    ok: false,
    variantId: null,
    variantName: null,
    predictedLatencyMs: null,
    predictedMemoryBytes: null,
    reasons: [reason],
  };
}

function summarize(decisions: PlanDecisionView[]) {
  const byVariant: Record<string, number> = {};
  for (const d of decisions)
    if (d.variantName) byVariant[d.variantName] = (byVariant[d.variantName] ?? 0) + 1;
  return {
    devices: decisions.length,
    planned: decisions.filter((d) => d.ok).length,
    unplannable: decisions.filter((d) => !d.ok).length,
    byVariant,
  };
}

function round(ms: number) {
  return Math.round(ms * 1000) / 1000;
}

export interface PlanningInputs {
  variants: VariantCost[];
  caps: Map<string, DeviceCapabilities>;
  correction: CorrectionModel;
  /** Field observations the correction was fitted on. */
  observations: number;
  planner: Planner;
  names: Map<string, string>;
}

/** Everything the planner needs for one model and these devices: variants, profiles, correction. */
export async function loadPlanningInputs(
  repos: Pick<Repos, "catalog" | "profiles" | "latency">,
  modelId: string,
  deviceIds: string[],
): Promise<PlanningInputs> {
  const rows = await repos.catalog.listVariants(modelId);
  const variants = rows.map(variantCostFromRow);
  const profiles = await repos.profiles.latestMany(deviceIds);
  const caps = new Map<string, DeviceCapabilities>();
  for (const [deviceId, p] of profiles)
    caps.set(deviceId, capabilitiesFromStoredProfile(deviceId, p.raw));
  const observations = await repos.latency.forVariants(
    rows.map((r) => r.id),
    new Date(Date.now() - CORRECTION_WINDOW_MS),
  );
  const correction = fitCorrection(
    plannerObservations(observations, caps, new Map(variants.map((v) => [v.id, v]))),
  );
  return {
    variants,
    caps,
    correction,
    observations: observations.length,
    planner: new Planner(variants, { correction }),
    names: new Map(variants.map((v) => [v.id, v.name ?? v.id])),
  };
}

/** One decision per device, with its reasons; a device without a profile cannot be planned. */
export function planDevices(
  inputs: PlanningInputs,
  devices: readonly Pick<Device, "id" | "name" | "deviceClass">[],
  policy: PlanPolicy,
): PlanDecisionView[] {
  return devices.map((d) => {
    const cap = inputs.caps.get(d.id);
    if (!cap) {
      return unplannable(
        d,
        "no profile reported yet: the device must connect and profile itself first",
      );
    }
    const decision = inputs.planner.plan(cap, policy);
    const chosen = decision.chosen;
    return {
      deviceId: d.id,
      deviceName: d.name,
      deviceClass: d.deviceClass,
      ok: decision.variantId !== null,
      variantId: decision.variantId,
      variantName: decision.variantId ? (inputs.names.get(decision.variantId) ?? null) : null,
      predictedLatencyMs: chosen ? round(chosen.predictedMs) : null,
      predictedMemoryBytes: chosen ? Math.round(chosen.memoryBytes) : null,
      reasons: decision.reasons,
    };
  });
}
