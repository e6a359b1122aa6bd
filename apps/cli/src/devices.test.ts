import type { DeviceDetailView } from "@edgefleet/protocol/rest";
import { describe, expect, it } from "vitest";
import { devicesQuery, formatDevices, unmatched } from "./devices";

const d = (name: string, status: string, deviceClass: string | null, labels = {}) =>
  ({
    id: `id-${name}`,
    name,
    status,
    deviceClass,
    labels,
    lastSeenAt: null,
    deployment: { deviceId: "", desired: null, reported: null, inSync: false },
  }) as unknown as DeviceDetailView;

describe("devicesQuery", () => {
  it.each([
    [{}, 50, undefined, "?limit=50"],
    [{ status: "online" as const }, 10, "c1", "?limit=10&cursor=c1&status=online"],
    [
      { deviceClass: "rpi4", labels: { site: "lab", tier: "a=b" } },
      500,
      null,
      "?limit=500&deviceClass=rpi4&label=site%3Dlab&label=tier%3Da%3Db",
    ],
  ])("%j", (filter, limit, cursor, q) => expect(devicesQuery(filter, limit, cursor)).toBe(q));
});

describe("unmatched: a control plane that ignored a filter is caught", () => {
  const items = [d("pi", "online", "rpi4", { site: "lab" }), d("gw", "offline", null)];
  it.each([
    [{}, undefined],
    [{ status: "online" as const }, "gw"],
    [{ deviceClass: "rpi4" }, "gw"],
    [{ labels: { site: "lab" } }, "gw"],
    [{ labels: { site: "edge" } }, "pi"],
  ])("%j -> %s", (filter, name) => expect(unmatched(items, filter)?.name).toBe(name));
});

describe("formatDevices", () => {
  it.each([
    [0, false, /^no devices yet: create an enrollment token/],
    [0, true, /^no devices match$/],
  ])("an empty list (total %d, filtered %s)", (total, filtered, msg) => {
    expect(formatDevices({ items: [], total, nextCursor: null }, filtered)).toMatch(msg);
  });
  it("a row per device with labels and reported state", () => {
    const text = formatDevices(
      { items: [d("pi", "online", "rpi4", { b: "2", a: "1" })], total: 1, nextCursor: null },
      false,
    );
    expect(text.split("\n")[1]).toMatch(/^id-pi\s+pi\s+rpi4\s+online\s+a=1, b=2\s+-\s+-\s+never$/);
  });
});
