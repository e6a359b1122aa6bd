import type { DeviceDetailView } from "@edgefleet/protocol/rest";
import { describe, expect, it } from "vitest";
import {
  devicesQuery,
  type FleetFilter,
  filterFromParams,
  formatLabelInput,
  matchesFilter,
  parseLabels,
} from "./fleet-filter";

describe("parseLabels", () => {
  it.each([
    ["", { ok: true, value: {} }],
    ["site=lab", { ok: true, value: { site: "lab" } }],
    [" site = lab , tier=a ", { ok: true, value: { site: "lab", tier: "a" } }],
    ["k=a=b", { ok: true, value: { k: "a=b" } }],
    ["empty=", { ok: true, value: { empty: "" } }],
    ["site", { ok: false, error: 'label "site" must be key=value' }],
    ["=lab", { ok: false, error: 'label "=lab" must be key=value' }],
    ["a=1,a=2", { ok: false, error: 'label "a" is given twice' }],
  ])("%j", (text, result) => expect(parseLabels(text)).toEqual(result));

  it("round-trips through the input text", () => {
    const labels = { site: "lab", tier: "a" };
    expect(parseLabels(formatLabelInput(labels))).toEqual({ ok: true, value: labels });
  });
});

describe("devicesQuery", () => {
  it.each([
    [{ labels: {} }, {}, ""],
    [{ labels: {}, status: "online" }, { limit: 50 }, "status=online&limit=50"],
    [
      { labels: { site: "lab", tier: "a b" }, deviceClass: "rpi4" },
      {},
      "deviceClass=rpi4&label=site%3Dlab&label=tier%3Da+b",
    ],
    [
      { labels: {}, variantId: "v1" },
      { limit: 5, cursor: "abc" },
      "variantId=v1&limit=5&cursor=abc",
    ],
  ] as [FleetFilter, { limit?: number; cursor?: string }, string][])(
    "%j %j -> %s",
    (filter, page, qs) => expect(devicesQuery(filter, page)).toBe(qs),
  );

  it("reads back what it writes (the hash keeps the filter)", () => {
    const f: FleetFilter = { status: "offline", deviceClass: "rpi4", labels: { site: "lab" } };
    expect(filterFromParams(new URLSearchParams(devicesQuery(f)))).toEqual({
      ...f,
      variantId: undefined,
    });
    expect(filterFromParams(new URLSearchParams("status=bogus")).status).toBeUndefined();
  });
});

describe("matchesFilter", () => {
  const device = {
    status: "online",
    deviceClass: "rpi4",
    labels: { site: "lab" },
    deployment: { reported: { serving: { variantId: "v1" } } },
  } as unknown as DeviceDetailView;
  it.each([
    [{ labels: {} }, true],
    [{ labels: {}, status: "online" }, true],
    [{ labels: {}, status: "offline" }, false],
    [{ labels: {}, deviceClass: "x64" }, false],
    [{ labels: { site: "lab" } }, true],
    [{ labels: { site: "shop" } }, false],
    [{ labels: {}, variantId: "v1" }, true],
    [{ labels: {}, variantId: "v2" }, false],
  ] as [FleetFilter, boolean][])("%j -> %s", (filter, ok) =>
    expect(matchesFilter(device, filter)).toBe(ok),
  );
});
