// `edgefleet devices assign`: sets what one device should run, and waits until it reports back.
// `edgefleet telemetry`: a device's field latency from the control plane's rollups.
import type {
  DeploymentView,
  DeviceTelemetryView,
  ModelDetailView,
} from "@edgefleet/protocol/rest";
import { type ApiTarget, callApi } from "./api-client";
import { CliInputError } from "./errors";
import { fmtMs } from "./table";

export interface AssignOptions {
  device: string;
  model?: string;
  /** Variant name (with --model) or id; undefined with `none`. */
  variant: string;
  maxBatch?: number;
  waitMs: number;
}

export async function assign(
  target: ApiTarget,
  o: AssignOptions,
  onUpdate: (d: DeploymentView) => void,
): Promise<DeploymentView> {
  let variantId: string | null = null;
  if (o.variant !== "none") {
    if (!o.model) throw new CliInputError("--model is required with a variant name");
    const model = await callApi<ModelDetailView>(
      target,
      "GET",
      `/api/v1/models/${encodeURIComponent(o.model)}`,
    );
    const v = model.variants.find((x) => x.name === o.variant || x.id === o.variant);
    if (!v) {
      const names = model.variants.map((x) => x.name).join(", ");
      throw new CliInputError(`model ${o.model} has no variant ${o.variant} (it has: ${names})`);
    }
    variantId = v.id;
  }
  const path = `/api/v1/devices/${encodeURIComponent(o.device)}/assignment`;
  let d = await callApi<DeploymentView>(target, "PUT", path, {
    variantId,
    options: o.maxBatch ? { maxBatch: o.maxBatch } : {},
  });
  const generation = d.desired?.generation ?? 0;
  const deadline = Date.now() + o.waitMs;
  onUpdate(d);
  while (!settled(d, generation) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    d = await callApi<DeploymentView>(target, "GET", path);
    onUpdate(d);
  }
  return d;
}

function settled(d: DeploymentView, generation: number): boolean {
  const r = d.reported;
  return r !== null && r.generation >= generation && r.phase !== "applying";
}

export function formatDeployment(d: DeploymentView): string {
  const want = d.desired
    ? `generation ${d.desired.generation}: ${d.desired.variantName ?? "nothing"}`
    : "nothing assigned";
  const r = d.reported;
  const got = r
    ? `${r.phase}${r.step ? ` (${r.step})` : ""} at generation ${r.generation}${r.error ? `: ${r.error}` : ""}`
    : "no report yet";
  return `${d.deviceId}  desired ${want}  reported ${got}${d.inSync ? "  ✓ in sync" : ""}`;
}

export function formatTelemetry(deviceId: string, t: DeviceTelemetryView): string {
  const ms = (v: number | null) => (v === null ? "-" : `${fmtMs(v)} ms`);
  const s = t.summary;
  const lines = [
    `${deviceId}: ${s.requests} requests, ${s.errors} errors, p50 ${ms(s.p50Ms)}, p95 ${ms(s.p95Ms)}, p99 ${ms(s.p99Ms)}`,
  ];
  for (const p of t.series) {
    lines.push(
      `  ${p.at.slice(11, 16)}  ${String(p.requests).padStart(7)} req  p50 ${ms(p.p50Ms)}  p95 ${ms(p.p95Ms)}`,
    );
  }
  return lines.join("\n");
}

export function deviceTelemetry(target: ApiTarget, device: string, minutes: number) {
  return callApi<DeviceTelemetryView>(
    target,
    "GET",
    `/api/v1/devices/${encodeURIComponent(device)}/telemetry?minutes=${minutes}`,
  );
}
