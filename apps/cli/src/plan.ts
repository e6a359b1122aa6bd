// `edgefleet plan`: a dry-run plan of a model over the fleet, shown as a table with reasons.
import type { PlanView } from "@edgefleet/protocol/rest";
import { type ApiTarget, callApi } from "./api-client";

export interface PlanOptions {
  model: string;
  slo: number;
  batch?: number;
  accuracyFloor?: number;
  objective?: string;
  labels?: Record<string, string>;
  deviceClass?: string;
}

/** The selector and policy a plan and a rollout both send, from the same options. */
export function selectorAndPolicy(o: Omit<PlanOptions, "model">) {
  return {
    selector: {
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.deviceClass ? { deviceClass: o.deviceClass } : {}),
    },
    policy: {
      latencySloMs: o.slo,
      ...(o.batch ? { batch: o.batch } : {}),
      ...(o.accuracyFloor !== undefined ? { accuracyFloor: o.accuracyFloor } : {}),
      ...(o.objective ? { objective: o.objective } : {}),
    },
  };
}

export function createPlan(target: ApiTarget, o: PlanOptions): Promise<PlanView> {
  return callApi<PlanView>(target, "POST", "/api/v1/plans", {
    modelId: o.model,
    ...selectorAndPolicy(o),
    dryRun: true,
  });
}

export function formatPlan(plan: PlanView): string {
  const lines = [
    `plan ${plan.planId}: ${plan.summary.planned}/${plan.summary.devices} devices planned`,
    "",
  ];
  for (const d of plan.decisions) {
    const what = d.ok ? `${d.variantName} (${d.predictedLatencyMs?.toFixed(3)} ms)` : "no variant";
    lines.push(
      `${d.deviceName.padEnd(16)} ${(d.deviceClass ?? "real").padEnd(12)} ${what}  (device ${d.deviceId})`,
    );
    for (const r of d.reasons) lines.push(`    ${r}`);
  }
  return lines.join("\n");
}
