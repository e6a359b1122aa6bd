import type { FleetEvent } from "@edgefleet/protocol";
import type { DeviceDetailView } from "@edgefleet/protocol/rest";
import { describe, expect, it } from "vitest";
import { applyToDevice, applyToList, type FleetList } from "./live";

const device = (id: string, over: Partial<DeviceDetailView> = {}): DeviceDetailView =>
  ({
    id,
    name: id,
    status: "enrolled",
    deviceClass: "rpi4",
    labels: {},
    lastSeenAt: null,
    deployment: { deviceId: id, desired: null, reported: null, inSync: false },
    ...over,
  }) as DeviceDetailView;

const event = (type: FleetEvent["type"], deviceId: string, extra: Partial<FleetEvent> = {}) =>
  ({ type, deviceId, at: "2026-12-02T12:00:00.000Z", ...extra }) as FleetEvent;

describe("applyToDevice", () => {
  it.each([
    ["device.online", { status: "online", lastSeenAt: "2026-12-02T12:00:00.000Z" }],
    ["device.offline", { status: "offline" }],
  ] as [FleetEvent["type"], Partial<DeviceDetailView>][])("%s", (type, change) => {
    expect(applyToDevice(device("a"), event(type, "a"))).toMatchObject(change);
  });

  it("takes the deployment of assigned and state events", () => {
    const deployment = { deviceId: "a", desired: null, reported: null, inSync: true };
    expect(
      applyToDevice(device("a"), event("device.state", "a", { data: deployment })).deployment,
    ).toEqual(deployment);
  });

  it("leaves other devices and unrelated events alone (same object)", () => {
    const d = device("a");
    expect(applyToDevice(d, event("device.online", "b"))).toBe(d);
    expect(applyToDevice(d, event("device.telemetry", "a"))).toBe(d);
  });
});

describe("applyToList", () => {
  const enrolled = (id: string, over: Record<string, unknown> = {}) =>
    event("device.enrolled", id, { device: { ...device(id), deployment: undefined, ...over } });
  const all = () => true;
  const list = (items: DeviceDetailView[], nextCursor: string | null = null): FleetList => ({
    items,
    total: items.length,
    nextCursor,
  });

  it("appends a new device on the last page", () => {
    const next = applyToList(list([device("a")]), enrolled("b"), all);
    expect(next.items.map((d) => d.id)).toEqual(["a", "b"]);
    expect(next.total).toBe(2);
    expect(next.items[1].deployment).toMatchObject({ desired: null, inSync: false });
  });

  it("only counts it when more pages follow", () => {
    const next = applyToList(list([device("a")], "cursor"), enrolled("b"), all);
    expect(next.items.map((d) => d.id)).toEqual(["a"]);
    expect(next.total).toBe(2);
  });

  it("ignores a device the filter would not fetch, or one already shown", () => {
    const l = list([device("a")]);
    expect(applyToList(l, enrolled("b"), () => false)).toBe(l);
    expect(applyToList(l, enrolled("a"), all)).toBe(l);
  });

  it("updates a shown device in place", () => {
    const next = applyToList(list([device("a"), device("b")]), event("device.online", "b"), all);
    expect(next.items.map((d) => d.status)).toEqual(["enrolled", "online"]);
  });
});
