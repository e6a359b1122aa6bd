// `edgefleet telemetry --follow`: folds the stream's `device.telemetry` events into live rows
// per device or per device class. Pure: the WebSocket is in stream.ts, the clock is passed in.
import type { FleetEvent } from "@edgefleet/protocol";
import type {
  DeploymentView,
  DeviceDetailView,
  DeviceView,
  TelemetryEventData,
} from "@edgefleet/protocol/rest";
import { columns, fmtAge, fmtMs } from "./table";

/** Rates are over this much of the recent past. */
export const WINDOW_MS = 60_000;

interface Window {
  receivedAt: number;
  variantId: string;
  requests: number;
  errors: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

export interface LiveFilter {
  deviceIds?: readonly string[];
  deviceClass?: string;
}

export interface LiveState {
  startedAt: number;
  filter: LiveFilter;
  devices: Map<string, { name: string; deviceClass: string | null }>;
  variantNames: Map<string, string>;
  /** Per device, its windows of the last WINDOW_MS, oldest first. */
  windows: Map<string, Window[]>;
}

export function liveState(
  startedAt: number,
  filter: LiveFilter,
  known: readonly DeviceDetailView[] = [],
): LiveState {
  const s: LiveState = {
    startedAt,
    filter,
    devices: new Map(),
    variantNames: new Map(),
    windows: new Map(),
  };
  for (const d of known) {
    learnDevice(s, d);
    learnDeployment(s, d.deployment);
  }
  return s;
}

function learnDevice(s: LiveState, d: Pick<DeviceView, "id" | "name" | "deviceClass">) {
  s.devices.set(d.id, { name: d.name, deviceClass: d.deviceClass });
}

function learnDeployment(s: LiveState, d: Partial<DeploymentView> | undefined) {
  const want = d?.desired;
  if (want?.variantId && want.variantName) s.variantNames.set(want.variantId, want.variantName);
}

function wanted(s: LiveState, deviceId: string): boolean {
  const f = s.filter;
  if (f.deviceIds?.length && !f.deviceIds.includes(deviceId)) return false;
  if (f.deviceClass !== undefined && s.devices.get(deviceId)?.deviceClass !== f.deviceClass) {
    return false;
  }
  return true;
}

/** Folds one stream event; returns true when it was telemetry that the filter keeps. */
export function foldEvent(s: LiveState, e: FleetEvent, receivedAt: number): boolean {
  if ((e.type === "device.enrolled" || e.type === "device.updated") && e.device) {
    learnDevice(s, { ...(e.device as unknown as DeviceView), id: e.deviceId });
  }
  if (e.type === "device.assigned") learnDeployment(s, e.data as Partial<DeploymentView>);
  if (e.type !== "device.telemetry" || !e.data || !wanted(s, e.deviceId)) return false;
  const t = e.data as unknown as TelemetryEventData;
  const list = s.windows.get(e.deviceId) ?? [];
  list.push({
    receivedAt,
    variantId: t.variantId,
    requests: t.requests,
    errors: t.errors,
    p50Ms: t.p50Ms,
    p95Ms: t.p95Ms,
    p99Ms: t.p99Ms,
  });
  s.windows.set(e.deviceId, list);
  return true;
}

/** Drops windows older than WINDOW_MS (each device keeps its last): a long follow stays small. */
export function prune(s: LiveState, now: number): void {
  for (const [deviceId, list] of s.windows) {
    const recent = list.filter((w) => now - w.receivedAt <= WINDOW_MS);
    s.windows.set(deviceId, recent.length ? recent : list.slice(-1));
  }
}

export interface DeviceRow {
  deviceId: string;
  name: string;
  deviceClass: string;
  variant: string;
  requestsPerS: number;
  errors: number;
  /** The latest window's figures. */
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  lastAt: number;
}

/** Seconds the rates divide by: the window, or less while the follow is younger than it. */
function span(s: LiveState, now: number): number {
  return Math.max(1, Math.min(WINDOW_MS, now - s.startedAt) / 1000);
}

export function deviceRows(s: LiveState, now: number): DeviceRow[] {
  const rows: DeviceRow[] = [];
  for (const [deviceId, list] of s.windows) {
    const recent = list.filter((w) => now - w.receivedAt <= WINDOW_MS);
    const last = list.at(-1)!;
    const info = s.devices.get(deviceId);
    rows.push({
      deviceId,
      name: info?.name ?? deviceId.slice(0, 8),
      deviceClass: info?.deviceClass ?? "real",
      variant: s.variantNames.get(last.variantId) ?? last.variantId.slice(0, 8),
      requestsPerS: recent.reduce((n, w) => n + w.requests, 0) / span(s, now),
      errors: recent.reduce((n, w) => n + w.errors, 0),
      p50Ms: last.p50Ms,
      p95Ms: last.p95Ms,
      p99Ms: last.p99Ms,
      lastAt: last.receivedAt,
    });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name) || a.deviceId.localeCompare(b.deviceId));
}

export interface ClassRow {
  deviceClass: string;
  /** Devices that sent telemetry within the window. */
  devices: number;
  requestsPerS: number;
  errors: number;
  /** The median device's latest p50. */
  p50Ms: number | null;
  /** The worst device's latest p95: what an SLO per class is held to. */
  worstP95Ms: number | null;
}

export function classRows(rows: readonly DeviceRow[], now: number): ClassRow[] {
  const byClass = new Map<string, DeviceRow[]>();
  for (const r of rows) {
    if (now - r.lastAt > WINDOW_MS) continue;
    byClass.set(r.deviceClass, [...(byClass.get(r.deviceClass) ?? []), r]);
  }
  return [...byClass]
    .map(([deviceClass, rs]) => {
      const p50s = rs.flatMap((r) => (r.p50Ms === null ? [] : [r.p50Ms])).sort((a, b) => a - b);
      const p95s = rs.flatMap((r) => (r.p95Ms === null ? [] : [r.p95Ms]));
      return {
        deviceClass,
        devices: rs.length,
        requestsPerS: rs.reduce((n, r) => n + r.requestsPerS, 0),
        errors: rs.reduce((n, r) => n + r.errors, 0),
        p50Ms: p50s.length ? p50s[Math.floor((p50s.length - 1) / 2)] : null,
        worstP95Ms: p95s.length ? Math.max(...p95s) : null,
      };
    })
    .sort((a, b) => a.deviceClass.localeCompare(b.deviceClass));
}

const rate = (v: number) => (v >= 10 ? v.toFixed(0) : v.toFixed(1));

export function formatDeviceRows(rows: readonly DeviceRow[], now: number): string {
  if (rows.length === 0) return "waiting for telemetry (agents send it every 5 s while serving)";
  return columns<DeviceRow>(
    [
      { header: "device", cell: (r) => r.name },
      { header: "class", cell: (r) => r.deviceClass },
      { header: "variant", cell: (r) => r.variant },
      { header: "req/s", cell: (r) => rate(r.requestsPerS), align: "right" },
      { header: "p50 ms", cell: (r) => fmtMs(r.p50Ms), align: "right" },
      { header: "p95 ms", cell: (r) => fmtMs(r.p95Ms), align: "right" },
      { header: "p99 ms", cell: (r) => fmtMs(r.p99Ms), align: "right" },
      { header: "errors", cell: (r) => String(r.errors), align: "right" },
      { header: "last", cell: (r) => fmtAge(new Date(r.lastAt).toISOString(), now) },
    ],
    rows,
  );
}

export function formatClassRows(rows: readonly ClassRow[]): string {
  if (rows.length === 0) return "waiting for telemetry (agents send it every 5 s while serving)";
  return columns<ClassRow>(
    [
      { header: "class", cell: (r) => r.deviceClass },
      { header: "devices", cell: (r) => String(r.devices), align: "right" },
      { header: "req/s", cell: (r) => rate(r.requestsPerS), align: "right" },
      { header: "p50 ms (median device)", cell: (r) => fmtMs(r.p50Ms), align: "right" },
      { header: "p95 ms (worst device)", cell: (r) => fmtMs(r.worstP95Ms), align: "right" },
      { header: "errors", cell: (r) => String(r.errors), align: "right" },
    ],
    rows,
  );
}
