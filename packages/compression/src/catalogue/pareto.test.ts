import { describe, expect, it } from "vitest";
import { dominates, paretoFront, violations } from "./pareto";

describe("Pareto front over (bytes, latency, quality)", () => {
  it.each([
    [{ bytes: 1, latencyMs: 1, quality: 0.9 }, { bytes: 2, latencyMs: 2, quality: 0.8 }, true],
    [{ bytes: 1, latencyMs: 1, quality: 0.9 }, { bytes: 1, latencyMs: 1, quality: 0.9 }, false],
    [{ bytes: 1, latencyMs: 3, quality: 0.9 }, { bytes: 2, latencyMs: 2, quality: 0.9 }, false],
  ])("%j dominates %j: %s", (a, b, expected) => {
    expect(dominates(a, b)).toBe(expected);
  });

  it("keeps every trade-off and drops dominated points", () => {
    const points = [
      { bytes: 100, latencyMs: 10, quality: 0.95 }, // fp32: best quality
      { bytes: 25, latencyMs: 3, quality: 0.945 }, // int8: small and fast
      { bytes: 50, latencyMs: 10, quality: 0.95 }, // fp16: same quality, smaller than fp32
      { bytes: 30, latencyMs: 4, quality: 0.94 }, // dominated by int8
      { bytes: 10, latencyMs: 9, quality: 0.9 }, // smallest
    ];
    expect(paretoFront(points)).toEqual([1, 2, 4]);
  });
});

describe("constraints", () => {
  it.each([
    [{ dropPoints: 0.4, bytes: 10, latencyMs: 1 }, { maxDropPoints: 0.5 }, []],
    [
      { dropPoints: 0.6, bytes: 10, latencyMs: 1 },
      { maxDropPoints: 0.5 },
      ["drop 0.60 pt > 0.5 pt"],
    ],
    [{ dropPoints: 0, bytes: 10, latencyMs: 1 }, { maxDropPoints: 1, maxBytes: 5 }, ["10 B > 5 B"]],
    [
      { dropPoints: 0, bytes: 1, latencyMs: 2 },
      { maxDropPoints: 1, maxLatencyMs: 1 },
      ["b1 2.000 ms > 1 ms"],
    ],
  ])("%j under %j -> %j", (v, c, expected) => {
    expect(violations(v, c)).toEqual(expected);
  });
});
