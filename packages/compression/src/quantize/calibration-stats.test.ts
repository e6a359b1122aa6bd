import { describe, expect, it } from "vitest";
import { createRng } from "../nn/rng";
import {
  accumulateRange,
  addToHistogram,
  type CalibrationMethod,
  emptyRangeStats,
  histogramFor,
  mergeHistograms,
  mergeRangeStats,
  type RangeStats,
  rangesFromStats,
} from "./calibration-stats";
import type { Histogram } from "./histogram";

type Activations = Map<string, Float32Array[]>;

/** Skewed per-device activations: each part draws from its own offset and scale. */
function partition(seed: number, parts: number, tensors: string[]): Activations[] {
  const rng = createRng(seed);
  return Array.from({ length: parts }, (_, p) => {
    const out: Activations = new Map();
    for (const [ti, t] of tensors.entries()) {
      const batches = Array.from({ length: 2 + p }, () =>
        Float32Array.from({ length: 50 + 30 * p }, () => {
          // A heavy tail on part 0 of tensor 0 (the outliers percentile/MSE clip).
          const tail = p === 0 && ti === 0 && rng.next() < 0.01 ? 40 : 1;
          return (rng.next() - 0.3 + p * 0.5) * (1 + ti + p) * tail;
        }),
      );
      out.set(t, batches);
    }
    return out;
  });
}

function rangesOf(a: Activations): Map<string, RangeStats> {
  return new Map(
    [...a].map(([t, batches]) => {
      const s = emptyRangeStats();
      for (const b of batches) accumulateRange(s, b);
      return [t, s] as const;
    }),
  );
}

function histogramsOf(a: Activations, ranges: ReadonlyMap<string, RangeStats>, bins: number) {
  return new Map(
    [...a].map(([t, batches]) => {
      const h = histogramFor(ranges.get(t) as RangeStats, bins);
      for (const b of batches) addToHistogram(h, b);
      return [t, h] as const;
    }),
  );
}

function union(parts: Activations[]): Activations {
  const out: Activations = new Map();
  for (const p of parts) for (const [t, b] of p) out.set(t, [...(out.get(t) ?? []), ...b]);
  return out;
}

describe("federated calibration statistics", () => {
  const tensors = ["input", "relu1", "relu2"];
  const cases: Array<{ method: CalibrationMethod; parts: number; bins: number; seed: number }> = [
    { method: "minmax", parts: 3, bins: 2048, seed: 1 },
    { method: "percentile", parts: 3, bins: 2048, seed: 2 },
    { method: "mse", parts: 3, bins: 2048, seed: 3 },
    { method: "percentile", parts: 5, bins: 128, seed: 4 },
    { method: "mse", parts: 2, bins: 512, seed: 5 },
    { method: "minmax", parts: 1, bins: 64, seed: 6 },
  ];
  it.each(cases)(
    "merging per-device stats of a partition equals central stats of the union ($method, $parts parts, $bins bins)",
    ({ method, parts, bins, seed }) => {
      const devices = partition(seed, parts, tensors);
      const all = union(devices);
      const centralRanges = rangesOf(all);
      const centralHists = histogramsOf(all, centralRanges, bins);
      const merged = mergeRangeStats(devices.map(rangesOf));
      expect(merged).toEqual(centralRanges);
      const mergedHists = mergeHistograms(devices.map((d) => histogramsOf(d, merged, bins)));
      expect(mergedHists).toEqual(centralHists);
      const central = rangesFromStats(centralRanges, centralHists, method);
      const federated = rangesFromStats(merged, mergedHists, method);
      expect(federated).toEqual(central);
      // The partition is skewed: no single device's own range is the union's.
      if (parts > 1) {
        const own = rangesFromStats(
          rangesOf(devices[1]),
          histogramsOf(devices[1], rangesOf(devices[1]), bins),
          method,
        );
        expect(own).not.toEqual(central);
      }
    },
  );

  it("counts add up over the parts", () => {
    const devices = partition(7, 3, ["t"]);
    const merged = mergeRangeStats(devices.map(rangesOf)).get("t") as RangeStats;
    const total = devices.reduce(
      (a, d) => a + (d.get("t") ?? []).reduce((x, b) => x + b.length, 0),
      0,
    );
    expect(merged.count).toBe(total);
  });

  const bad: Array<{ name: string; parts: () => Map<string, Histogram>[]; error: RegExp }> = [
    {
      name: "other bin count",
      parts: () => [
        new Map([["t", histogramFor({ min: 0, max: 1 }, 8)]]),
        new Map([["t", histogramFor({ min: 0, max: 1 }, 16)]]),
      ],
      error: /part 1: tensor "t" has other bins/,
    },
    {
      name: "other range",
      parts: () => [
        new Map([["t", histogramFor({ min: 0, max: 1 }, 8)]]),
        new Map([["t", histogramFor({ min: 0, max: 2 }, 8)]]),
      ],
      error: /other bins/,
    },
    {
      name: "other tensor",
      parts: () => [
        new Map([["t", histogramFor({ min: 0, max: 1 }, 8)]]),
        new Map([["u", histogramFor({ min: 0, max: 1 }, 8)]]),
      ],
      error: /tensor "u" that part 0 does not/,
    },
  ];
  it.each(bad)("refuses to merge histograms with $name", ({ parts, error }) => {
    expect(() => mergeHistograms(parts())).toThrow(error);
  });

  it("refuses to merge ranges over other tensor sets", () => {
    const a = new Map([["t", { min: 0, max: 1, count: 1 }]]);
    const b = new Map([["u", { min: 0, max: 1, count: 1 }]]);
    expect(() => mergeRangeStats([a, b])).toThrow(/part 1 does not hold the same tensors/);
    expect(() => mergeRangeStats([])).toThrow(/nothing to merge/);
  });

  it("percentile and MSE need the histogram pass", () => {
    const r = new Map([["t", { min: 0, max: 1, count: 1 }]]);
    expect(() => rangesFromStats(r, undefined, "mse")).toThrow(/needs a histogram/);
    expect(rangesFromStats(r, undefined, "minmax").get("t")).toEqual([0, 1]);
  });
});
