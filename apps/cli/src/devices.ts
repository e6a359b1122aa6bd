// `edgefleet devices list|show|label`: the fleet as the control plane sees it. Requests and the
// text people read; `assign.ts` does `devices assign`.
import type {
  DeviceDecommissionView,
  DeviceDetailView,
  DeviceLabelsPatch,
  DevicePageView,
  DeviceStatus,
  DeviceTelemetryView,
  ModelDetailView,
  ProfileView,
  RetargetMovesView,
  RetargetMoveView,
} from "@edgefleet/protocol/rest";
import { type ApiTarget, callApi, query } from "./api-client";
import { ApiError, CliInputError } from "./errors";
import { formatLabels } from "./labels";
import { columns, fmtAge, fmtBytes, fmtMs } from "./table";

export interface DeviceFilter {
  status?: DeviceStatus;
  deviceClass?: string;
  labels?: Record<string, string>;
}

const dev = (id: string) => `/api/v1/devices/${encodeURIComponent(id)}`;

/** The list's query string: filters as the control plane names them (`label=k=v`, repeated). */
export function devicesQuery(f: DeviceFilter, limit: number, cursor?: string | null): string {
  return query({
    limit,
    cursor: cursor ?? undefined,
    status: f.status,
    deviceClass: f.deviceClass,
    label: Object.entries(f.labels ?? {}).map(([k, v]) => `${k}=${v}`),
  });
}

/** The first device that does not match the filter: a control plane that ignored part of it. */
export function unmatched(
  items: readonly DeviceDetailView[],
  f: DeviceFilter,
): DeviceDetailView | undefined {
  return items.find(
    (d) =>
      (f.status !== undefined && d.status !== f.status) ||
      (f.deviceClass !== undefined && d.deviceClass !== f.deviceClass) ||
      Object.entries(f.labels ?? {}).some(([k, v]) => d.labels?.[k] !== v),
  );
}

export async function listPage(
  target: ApiTarget,
  f: DeviceFilter,
  limit: number,
  cursor?: string | null,
): Promise<DevicePageView> {
  const page = await callApi<DevicePageView>(
    target,
    "GET",
    `/api/v1/devices${devicesQuery(f, limit, cursor)}`,
  );
  // Never show devices the person filtered out as if they matched.
  const odd = unmatched(page.items, f);
  if (odd) {
    throw new CliInputError(
      `the control plane at ${target.url} did not apply the filter (device ${odd.name} does not match): it predates list filters by class and label`,
    );
  }
  return page;
}

/** Every page, following nextCursor; `onPage` sees how many of how many have arrived. */
export async function listAll(
  target: ApiTarget,
  f: DeviceFilter,
  onPage?: (done: number, total: number) => void,
): Promise<DevicePageView> {
  const items: DeviceDetailView[] = [];
  let cursor: string | null = null;
  let total = 0;
  do {
    const page: DevicePageView = await listPage(target, f, 500, cursor);
    items.push(...page.items);
    total = page.total;
    cursor = page.nextCursor;
    onPage?.(items.length, Math.max(total, items.length));
  } while (cursor);
  return { items, total, nextCursor: null };
}

function reportedCell(d: DeviceDetailView): string {
  const r = d.deployment.reported;
  if (!r) return "-";
  return `${r.phase} (gen ${r.generation})${d.deployment.inSync ? " ✓" : ""}`;
}

export function formatDevices(page: DevicePageView, filtered: boolean, now = Date.now()): string {
  if (page.items.length === 0) {
    if (filtered) return "no devices match";
    return page.total === 0
      ? "no devices yet: create an enrollment token (edgefleet tokens create) and start an agent with it"
      : "no devices on this page";
  }
  return columns<DeviceDetailView>(
    [
      { header: "id", cell: (d) => d.id },
      { header: "name", cell: (d) => d.name },
      { header: "class", cell: (d) => d.deviceClass ?? "real" },
      { header: "status", cell: (d) => d.status },
      { header: "labels", cell: (d) => formatLabels(d.labels) },
      { header: "desired variant", cell: (d) => d.deployment.desired?.variantName ?? "-" },
      { header: "reported", cell: reportedCell },
      { header: "last seen", cell: (d) => fmtAge(d.lastSeenAt, now) },
    ],
    page.items,
  );
}

/** What `devices show` gathers about one device. */
export interface DeviceShow {
  device: DeviceDetailView;
  /** Null until the device has reported one. */
  profile: ProfileView | null;
  /** The last 15 minutes from the rollups. */
  telemetry: DeviceTelemetryView;
  retargets: RetargetMoveView[];
  /** Names of the variants the deployment and the moves mention, by id. */
  variantNames: Record<string, string>;
}

export const SHOW_MINUTES = 15;

export async function showDevice(target: ApiTarget, id: string): Promise<DeviceShow> {
  const device = await callApi<DeviceDetailView>(target, "GET", dev(id));
  const [profile, telemetry, moves] = await Promise.all([
    callApi<ProfileView>(target, "GET", `${dev(id)}/profile`).catch((err) => {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }),
    callApi<DeviceTelemetryView>(target, "GET", `${dev(id)}/telemetry?minutes=${SHOW_MINUTES}`),
    callApi<RetargetMovesView>(target, "GET", `${dev(id)}/retargets`),
  ]);
  const variantNames: Record<string, string> = {};
  const desired = device.deployment.desired;
  if (desired?.variantId && desired.variantName)
    variantNames[desired.variantId] = desired.variantName;
  if (desired?.model && moves.items.length > 0) {
    const model = await callApi<ModelDetailView>(
      target,
      "GET",
      `/api/v1/models/${encodeURIComponent(desired.model.id)}`,
    );
    for (const v of model.variants) variantNames[v.id] = v.name;
  }
  return { device, profile, telemetry, retargets: moves.items, variantNames };
}

export function formatDeviceShow(s: DeviceShow, now = Date.now()): string {
  const d = s.device;
  const name = (id: string | null) => (id ? (s.variantNames[id] ?? id.slice(0, 8)) : "nothing");
  const kv = (k: string, v: string) => `  ${k.padEnd(11)} ${v}`;
  const lines = [
    `device ${d.name} (${d.id})`,
    kv("status", `${d.status}, last seen ${fmtAge(d.lastSeenAt, now)}`),
    kv("class", `${d.deviceClass ?? "real"}${d.simulated ? " (simulated)" : ""}`),
    kv(
      "hardware",
      `${d.arch}, ${d.cores} cores, ${fmtBytes(d.ramBytes)} RAM, ${d.cpuModel || "unknown CPU"}`,
    ),
    kv("cpu flags", d.cpuFlags.length ? d.cpuFlags.join(" ") : "-"),
    kv("accel", d.accelerators.length ? d.accelerators.join(", ") : "-"),
    kv("agent", d.agentVersion),
    kv("labels", formatLabels(d.labels)),
    kv("enrolled", d.createdAt),
    "",
  ];
  const p = s.profile;
  if (p) {
    lines.push(
      `profile (measured ${p.measuredAt}, ${p.threads} thread${p.threads === 1 ? "" : "s"}${p.simulated ? `, simulated ${p.deviceClass}` : ""})`,
      kv(
        "compute",
        `fp32 ${p.fp32Gflops.toFixed(2)} GFLOP/s, int8 ${p.int8Gops.toFixed(2)} GOP/s, int4 ${p.int4Gops === null ? "unsupported" : `${p.int4Gops.toFixed(2)} GOP/s`}`,
      ),
      kv("memory", `${p.memBandwidthGBs.toFixed(2)} GB/s`),
      kv("load", p.loadTimeMs === null ? "-" : `${fmtMs(p.loadTimeMs)} ms`),
      kv("native", p.nativeKernels.length ? p.nativeKernels.join(", ") : "-"),
    );
  } else {
    lines.push("profile     none reported yet");
  }
  const want = d.deployment.desired;
  const got = d.deployment.reported;
  lines.push(
    "",
    "deployment",
    kv(
      "desired",
      want
        ? `generation ${want.generation}: ${want.variantName ?? "nothing (unload)"}${want.model ? ` of ${want.model.name} ${want.model.version}` : ""}, by ${want.assignedBy} at ${want.updatedAt}`
        : "nothing assigned",
    ),
    kv(
      "reported",
      got
        ? `${got.phase}${got.step ? ` (${got.step})` : ""} at generation ${got.generation}, sent ${got.sentAt}${got.error ? `: ${got.error}` : ""}`
        : "no report yet",
    ),
    kv("in sync", d.deployment.inSync ? "yes" : "no"),
  );
  const t = s.telemetry.summary;
  const last = s.telemetry.series.at(-1);
  lines.push(
    "",
    `latency (last ${SHOW_MINUTES} min)`,
    t.requests > 0
      ? kv(
          "all",
          `${t.requests} requests, ${t.errors} errors, p50 ${fmtMs(t.p50Ms)} ms, p95 ${fmtMs(t.p95Ms)} ms, p99 ${fmtMs(t.p99Ms)} ms`,
        )
      : kv("all", "no traffic"),
  );
  if (last) {
    lines.push(
      kv(
        "last",
        `${last.at}: ${last.requests} requests, p50 ${fmtMs(last.p50Ms)} ms, p95 ${fmtMs(last.p95Ms)} ms`,
      ),
    );
  }
  lines.push("", "re-targeting");
  if (s.retargets.length === 0) lines.push("  no moves");
  for (const m of s.retargets) {
    lines.push(`  ${m.at}  ${m.action}  ${name(m.fromVariantId)} → ${name(m.toVariantId)}`);
    lines.push(`      ${m.reason}`);
  }
  return lines.join("\n");
}

/** Whether any filter narrows the list (an empty answer then means "none match"). */
export function isFiltered(f: DeviceFilter): boolean {
  return (
    f.status !== undefined || f.deviceClass !== undefined || Object.keys(f.labels ?? {}).length > 0
  );
}

export function patchLabels(
  target: ApiTarget,
  id: string,
  patch: DeviceLabelsPatch,
): Promise<DeviceDetailView> {
  return callApi<DeviceDetailView>(target, "PATCH", `${dev(id)}/labels`, patch);
}

/** Revokes the device's credentials for good (admin; issue 11). */
export function decommissionDevice(target: ApiTarget, id: string): Promise<DeviceDecommissionView> {
  return callApi<DeviceDecommissionView>(target, "POST", `${dev(id)}/decommission`, {});
}

export function formatDecommission(v: DeviceDecommissionView): string {
  const head = v.changed
    ? `${v.device.name} (${v.device.id}) decommissioned: its key is revoked`
    : `${v.device.name} (${v.device.id}) was already decommissioned`;
  const push = v.revocationPushed
    ? "NATS has the revocation; its connection is closed"
    : "NATS has not confirmed the revocation yet; the control plane keeps pushing it";
  const skipped = v.skippedTargets ? `\n${v.skippedTargets} rollout target(s) skipped` : "";
  return `${head}\n${push}${skipped}`;
}
