import type { FleetEvent } from "@edgefleet/protocol";
import type { DeviceDetailView, TelemetryEventData } from "@edgefleet/protocol/rest";
import { describe, expect, it } from "vitest";
import {
  classRows,
  deviceRows,
  foldEvent,
  formatClassRows,
  formatDeviceRows,
  liveState,
  prune,
  WINDOW_MS,
} from "./telemetry-live";

const T0 = Date.parse("2026-01-01T12:00:00Z");
const V = "00000000-0000-4000-8000-00000000000a";

const device = (id: string, name: string, deviceClass: string | null) =>
  ({
    id,
    name,
    deviceClass,
    deployment: {
      deviceId: id,
      desired: { variantId: V, variantName: "int8" },
      reported: null,
      inSync: false,
    },
  }) as unknown as DeviceDetailView;

const tel = (deviceId: string, requests: number, p50: number, p95: number): FleetEvent => ({
  type: "device.telemetry",
  deviceId,
  at: new Date(T0).toISOString(),
  data: {
    variantId: V,
    minute: "",
    requests,
    errors: 1,
    p50Ms: p50,
    p95Ms: p95,
    p99Ms: p95 * 2,
  } as Partial<TelemetryEventData> as Record<string, unknown>,
});

const fleet = [device("a", "pi-1", "rpi4"), device("b", "pi-2", "rpi4"), device("c", "gw", null)];

describe("live telemetry", () => {
  it("rates over the time followed so far, latency of each device's latest window", () => {
    const s = liveState(T0, {}, fleet);
    // [event, seconds after start]: pi-1 twice, pi-2 once, the gateway once.
    const events: [FleetEvent, number][] = [
      [tel("a", 100, 2, 5), 5],
      [tel("b", 50, 4, 9), 6],
      [tel("a", 100, 3, 6), 10],
      [tel("c", 10, 1, 1.5), 10],
    ];
    for (const [e, s2] of events) expect(foldEvent(s, e, T0 + s2 * 1000)).toBe(true);
    const rows = deviceRows(s, T0 + 10_000);
    expect(rows.map((r) => [r.name, r.deviceClass, r.variant, r.requestsPerS, r.p95Ms])).toEqual([
      ["gw", "real", "int8", 1, 1.5],
      ["pi-1", "rpi4", "int8", 20, 6],
      ["pi-2", "rpi4", "int8", 5, 9],
    ]);
    expect(classRows(rows, T0 + 10_000)).toEqual([
      { deviceClass: "real", devices: 1, requestsPerS: 1, errors: 1, p50Ms: 1, worstP95Ms: 1.5 },
      { deviceClass: "rpi4", devices: 2, requestsPerS: 25, errors: 3, p50Ms: 3, worstP95Ms: 9 },
    ]);
    expect(formatClassRows(classRows(rows, T0 + 10_000))).toMatch(/rpi4\s+2\s+25/);
    expect(formatDeviceRows(rows, T0 + 10_000).split("\n")[0]).toMatch(/^device\s+class\s+variant/);
  });

  it("keeps only what the filter asks for", () => {
    const byClass = liveState(T0, { deviceClass: "rpi4" }, fleet);
    expect(foldEvent(byClass, tel("c", 1, 1, 1), T0)).toBe(false);
    expect(foldEvent(byClass, tel("a", 1, 1, 1), T0)).toBe(true);
    const byDevice = liveState(T0, { deviceIds: ["b"] }, fleet);
    expect(foldEvent(byDevice, tel("a", 1, 1, 1), T0)).toBe(false);
    expect(foldEvent(byDevice, tel("b", 1, 1, 1), T0)).toBe(true);
  });

  it("learns devices and variant names from the stream", () => {
    const s = liveState(T0, { deviceClass: "jetson" });
    foldEvent(
      s,
      {
        type: "device.enrolled",
        deviceId: "n",
        at: "",
        device: { name: "nano", deviceClass: "jetson" },
      },
      T0,
    );
    foldEvent(
      s,
      {
        type: "device.assigned",
        deviceId: "n",
        at: "",
        data: { desired: { variantId: V, variantName: "fp16" } },
      },
      T0,
    );
    expect(foldEvent(s, tel("n", 5, 1, 2), T0 + 1000)).toBe(true);
    expect(deviceRows(s, T0 + 1000)[0]).toMatchObject({ name: "nano", variant: "fp16" });
  });

  it("drops windows older than a minute: a quiet device goes to 0 req/s and leaves its class", () => {
    const s = liveState(T0, {}, fleet);
    foldEvent(s, tel("a", 600, 2, 5), T0 + 1000);
    const later = T0 + 1000 + WINDOW_MS + 1;
    prune(s, later);
    expect(s.windows.get("a")).toHaveLength(1);
    const rows = deviceRows(s, later);
    expect(rows[0]).toMatchObject({ name: "pi-1", requestsPerS: 0, p95Ms: 5 });
    expect(classRows(rows, later)).toEqual([]);
  });

  it("says it is waiting before any telemetry", () => {
    expect(formatDeviceRows([], T0)).toMatch(/^waiting for telemetry/);
    expect(formatClassRows([])).toMatch(/^waiting for telemetry/);
  });
});
