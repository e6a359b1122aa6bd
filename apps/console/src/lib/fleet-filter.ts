// The fleet page's filters: what the user types, what the URL hash keeps (so a filtered view can
// be reloaded or shared: never a token), and the query GET /api/v1/devices takes. Pure.
import type { DeviceDetailView, DeviceStatus } from "@edgefleet/protocol/rest";

export interface FleetFilter {
  status?: DeviceStatus;
  deviceClass?: string;
  /** Every pair must match. */
  labels: Record<string, string>;
  /** Devices serving this variant. */
  variantId?: string;
}

export const STATUSES: readonly DeviceStatus[] = ["online", "offline", "enrolled"];

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** "site=lab, tier=a" -> {site: "lab", tier: "a"}; blank -> {}. */
export function parseLabels(text: string): Parsed<Record<string, string>> {
  const labels: Record<string, string> = {};
  for (const raw of text.split(",")) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf("=");
    if (eq <= 0) return { ok: false, error: `label "${part}" must be key=value` };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key.length > 64)
      return { ok: false, error: `label key "${key.slice(0, 20)}…" is too long` };
    if (key in labels) return { ok: false, error: `label "${key}" is given twice` };
    labels[key] = value;
  }
  return { ok: true, value: labels };
}

export function formatLabelInput(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

/** The query string of GET /api/v1/devices (without "?"). */
export function devicesQuery(
  filter: FleetFilter,
  page: { limit?: number; cursor?: string | null } = {},
): string {
  const q = new URLSearchParams();
  if (filter.status) q.set("status", filter.status);
  if (filter.deviceClass) q.set("deviceClass", filter.deviceClass);
  for (const [k, v] of Object.entries(filter.labels)) q.append("label", `${k}=${v}`);
  if (filter.variantId) q.set("variantId", filter.variantId);
  if (page.limit) q.set("limit", String(page.limit));
  if (page.cursor) q.set("cursor", page.cursor);
  return q.toString();
}

/** The filter kept in the page's hash (`#/?status=online&label=site%3Dlab`). */
export function filterFromParams(params: URLSearchParams): FleetFilter {
  const status = params.get("status");
  const labels: Record<string, string> = {};
  for (const pair of params.getAll("label")) {
    const eq = pair.indexOf("=");
    if (eq > 0) labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    status: STATUSES.includes(status as DeviceStatus) ? (status as DeviceStatus) : undefined,
    deviceClass: params.get("deviceClass") || undefined,
    labels,
    variantId: params.get("variantId") || undefined,
  };
}

/** What the server would say about a device this filter did not fetch (a live arrival). */
export function matchesFilter(device: DeviceDetailView, filter: FleetFilter): boolean {
  if (filter.status && device.status !== filter.status) return false;
  if (filter.deviceClass && device.deviceClass !== filter.deviceClass) return false;
  const labels = (device.labels ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(filter.labels)) if (labels[k] !== v) return false;
  if (filter.variantId && device.deployment?.reported?.serving?.variantId !== filter.variantId) {
    return false;
  }
  return true;
}

export function isFiltered(filter: FleetFilter): boolean {
  return Boolean(
    filter.status || filter.deviceClass || filter.variantId || Object.keys(filter.labels).length,
  );
}
