// `edgefleet assign`: sets what one device should run, and waits until it reports back.
// `edgefleet telemetry`: a device's field latency from the control plane's rollups.
import { type ApiTarget, callApi } from "./api-client";
import { CliInputError } from "./inputs";

export interface AssignOptions {
  device: string;
  model?: string;
  /** Variant name (with --model) or id; undefined with `none`. */
  variant: string;
  maxBatch?: number;
  waitMs: number;
}

interface Deployment {
  deviceId: string;
  desired: { generation: number; variantName: string | null } | null;
  reported: {
    generation: number;
    phase: string;
    step: string | null;
    error: string | null;
  } | null;
  inSync: boolean;
}

export async function assign(
  target: ApiTarget,
  o: AssignOptions,
  onUpdate: (d: Deployment) => void,
): Promise<Deployment> {
  let variantId: string | null = null;
  if (o.variant !== "none") {
    if (!o.model) throw new CliInputError("--model is required with a variant name");
    const model = await callApi<{ variants: { id: string; name: string }[] }>(
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
  let d = await callApi<Deployment>(target, "PUT", path, {
    variantId,
    options: o.maxBatch ? { maxBatch: o.maxBatch } : {},
  });
  const generation = d.desired?.generation ?? 0;
  const deadline = Date.now() + o.waitMs;
  onUpdate(d);
  while (!settled(d, generation) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    d = await callApi<Deployment>(target, "GET", path);
    onUpdate(d);
  }
  return d;
}

function settled(d: Deployment, generation: number): boolean {
  const r = d.reported;
  return r !== null && r.generation >= generation && r.phase !== "applying";
}

export function formatDeployment(d: Deployment): string {
  const want = d.desired
    ? `generation ${d.desired.generation}: ${d.desired.variantName ?? "nothing"}`
    : "nothing assigned";
  const r = d.reported;
  const got = r
    ? `${r.phase}${r.step ? ` (${r.step})` : ""} at generation ${r.generation}${r.error ? `: ${r.error}` : ""}`
    : "no report yet";
  return `${d.deviceId}  desired ${want}  reported ${got}${d.inSync ? "  ✓ in sync" : ""}`;
}

interface TelemetryReply {
  summary: {
    requests: number;
    errors: number;
    p50Ms: number | null;
    p95Ms: number | null;
    p99Ms: number | null;
  };
  series: { at: string; requests: number; p50Ms: number | null; p95Ms: number | null }[];
}

export function formatTelemetry(deviceId: string, t: TelemetryReply): string {
  const ms = (v: number | null) => (v === null ? "-" : `${v.toFixed(3)} ms`);
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
  return callApi<TelemetryReply>(
    target,
    "GET",
    `/api/v1/devices/${encodeURIComponent(device)}/telemetry?minutes=${minutes}`,
  );
}

interface DevicePage {
  items: {
    id: string;
    name: string;
    status: string;
    deviceClass: string | null;
    deployment: Deployment;
  }[];
  total: number;
  nextCursor: string | null;
}

/** Every device (all pages), for `edgefleet devices`. */
export async function listDevices(target: ApiTarget): Promise<DevicePage["items"]> {
  const out: DevicePage["items"] = [];
  let cursor: string | null = null;
  do {
    const page: DevicePage = await callApi<DevicePage>(
      target,
      "GET",
      `/api/v1/devices?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

export function formatDevices(items: DevicePage["items"]): string {
  const rows = items.map((d) => {
    const r = d.deployment.reported;
    const state = r ? `${r.phase} (generation ${r.generation})` : "-";
    return `${d.id}  ${d.name.padEnd(14)} ${(d.deviceClass ?? "real").padEnd(12)} ${d.status.padEnd(8)} ${(d.deployment.desired?.variantName ?? "-").padEnd(26)} ${state}`;
  });
  return [
    `${"id".padEnd(36)}  ${"name".padEnd(14)} ${"class".padEnd(12)} ${"status".padEnd(8)} ${"desired variant".padEnd(26)} reported`,
    ...rows,
  ].join("\n");
}
