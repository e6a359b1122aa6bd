import { describe, expect, it } from "vitest";
import {
  formatAgo,
  formatBytes,
  formatGateValue,
  formatLabels,
  formatMemory,
  formatMs,
  formatPercent,
} from "./format";

describe("format", () => {
  it.each([
    [0, "0 B"],
    [999, "999 B"],
    [1234, "1.23 KB"],
    [45_600, "45.6 KB"],
    [1_234_567, "1.23 MB"],
    [512_000_000, "512 MB"],
    [null, "–"],
  ] as [number | null, string][])("bytes %s -> %s", (n, s) => expect(formatBytes(n)).toBe(s));

  it.each([
    [4 * 2 ** 30, "4.0 GiB"],
    [16 * 2 ** 30, "16 GiB"],
    [512 * 2 ** 20, "512 MiB"],
  ])("memory %s -> %s", (n, s) => expect(formatMemory(n)).toBe(s));

  it.each([
    [0.0123, "0.012 ms"],
    [2.444, "2.44 ms"],
    [41.26, "41.3 ms"],
    [412.6, "413 ms"],
    [12_345, "12.3 s"],
    [null, "–"],
  ] as [number | null, string][])("ms %s -> %s", (n, s) => expect(formatMs(n)).toBe(s));

  it.each([
    [0.9234, "92.3 %"],
    [1, "100.0 %"],
    [null, "–"],
  ] as [number | null, string][])("percent %s -> %s", (n, s) => expect(formatPercent(n)).toBe(s));

  const now = Date.parse("2026-12-02T12:00:00Z");
  it.each([
    [null, "never"],
    ["2026-12-02T12:00:00Z", "just now"],
    ["2026-12-02T11:59:48Z", "12 s ago"],
    ["2026-12-02T11:55:00Z", "5 min ago"],
    ["2026-12-02T09:00:00Z", "3 h ago"],
    ["2026-11-30T12:00:00Z", "2 d ago"],
    ["garbage", "–"],
  ] as [string | null, string][])("ago %s -> %s", (iso, s) => expect(formatAgo(iso, now)).toBe(s));

  it.each([
    ["latency", 41.26, "41.3 ms"],
    ["errors", 0.012, "1.2 %"],
    ["canary", 0.97, "97.0 %"],
    ["install", null, "–"],
  ] as [string, number | null, string][])("gate %s %s -> %s", (g, v, s) =>
    expect(formatGateValue(g, v)).toBe(s),
  );

  it("labels as sorted pairs", () => {
    expect(formatLabels({ z: "1", a: "b" })).toEqual(["a=b", "z=1"]);
    expect(formatLabels(null)).toEqual([]);
  });
});
