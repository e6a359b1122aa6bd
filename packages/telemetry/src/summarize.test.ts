import { describe, expect, it } from "vitest";
import { foldTelemetry, type StoredRollup, toStoredRollup } from "./fold";
import { series, summarizeRollups } from "./summarize";
import {
  exactQuantile,
  lognormal,
  rng,
  sketchOf,
  T0,
  telemetry,
  VARIANT_A,
  VARIANT_B,
} from "./test-fixtures";

const MIN = 60_000;

/** One row per (device, minute offset): `latencies` answered, `runs` single-sample runs. */
function row(
  deviceId: string,
  minute: number,
  latencies: number[],
  runs: number[] = [],
): StoredRollup {
  const message = telemetry({
    seq: minute,
    windowStart: T0 + minute * MIN,
    windowEnd: T0 + minute * MIN + 5000,
    variantId: deviceId === "d3" ? VARIANT_B : VARIANT_A,
    requests: latencies.length,
    errors: 1,
    rejected: 2,
    latency: sketchOf(latencies).toSummary(),
    runBatch1: sketchOf(runs).toSummary(),
    runs: runs.length * 2,
    samples: runs.length * 5,
    cpuPercent: 10 * (minute + 1),
  });
  return toStoredRollup(foldTelemetry([{ deviceId, message }], new Map()).deltas[0]);
}

describe("summaries of rollups", () => {
  const r = rng(7);
  const lat = (n: number, median: number) =>
    Array.from({ length: n }, () => lognormal(r, median, 0.5));
  const a0 = lat(600, 4);
  const a1 = lat(1200, 6);
  const b0 = lat(900, 20);
  const rows = [row("d1", 0, a0, [1, 2, 3]), row("d1", 1, a1), row("d2", 0, b0, [5])];

  it("merge any group: here two devices over two minutes", () => {
    const s = summarizeRollups(rows);
    expect(s).toMatchObject({
      messages: 3,
      requests: 2700,
      errors: 3,
      rejected: 6,
      runs: 8,
      samples: 20,
    });
    const all = [...a0, ...a1, ...b0].sort((x, y) => x - y);
    for (const [q, got] of [
      [0.5, s.p50Ms],
      [0.95, s.p95Ms],
      [0.99, s.p99Ms],
    ] as const) {
      const exact = exactQuantile(all, q);
      expect(Math.abs(got! - exact) / exact).toBeLessThanOrEqual(0.01);
    }
    expect(s.minMs).toBe(all[0]);
    expect(s.maxMs).toBe(all[all.length - 1]);
    expect(s.meanMs).toBeCloseTo(all.reduce((x, y) => x + y, 0) / all.length, 9);
    expect(s.runP50Ms).toBeCloseTo(2, 1); // of 1, 2, 3, 5: the value at rank 0.5 * 3
    expect(s.runMeanMs).toBe(11 / 4);
    expect(s.meanBatch).toBe(20 / 8);
    expect(s.cpuPercentMax).toBe(20);
    // Two distinct minutes reported: 2700 requests over 120 s.
    expect(s.throughputPerS).toBe(2700 / 120);
    expect(summarizeRollups(rows, 10 * MIN).throughputPerS).toBe(2700 / 600);
  });

  it.each([
    { case: "no rows", rows: [] as StoredRollup[] },
    { case: "rows without latency or runs", rows: [row("d1", 0, []), row("d2", 0, [])] },
  ])("have nulls for $case", ({ rows }) => {
    expect(summarizeRollups(rows)).toMatchObject({
      ...{ p50Ms: null, p95Ms: null, p99Ms: null, meanMs: null, minMs: null, maxMs: null },
      ...{ runP50Ms: null, runP95Ms: null, runMeanMs: null, meanBatch: null },
      requests: 0,
      throughputPerS: 0,
    });
  });
});

describe("series", () => {
  const rows = [
    row("d1", 7, [10, 10]),
    row("d1", 0, [1]),
    row("d2", 4, [2, 2, 2]),
    row("d3", 5, [30]),
    row("d1", 12, [5]),
  ];
  it.each([
    {
      stepMs: MIN,
      want: [
        [0, 1],
        [4, 3],
        [5, 1],
        [7, 2],
        [12, 1],
      ],
    },
    {
      stepMs: 5 * MIN,
      want: [
        [0, 4],
        [5, 3],
        [10, 1],
      ],
    },
    { stepMs: 60 * MIN, want: [[0, 8]] },
  ])("buckets of $stepMs ms, oldest first", ({ stepMs, want }) => {
    const points = series(rows, stepMs);
    // T0 is on the hour, so buckets start at T0 + whole steps.
    expect(points.map((p) => [(p.t - T0) / MIN, p.requests])).toEqual(want);
    expect(points[0].throughputPerS).toBe(want[0][1] / (stepMs / 1000));
  });

  it("refuses a step that is not whole minutes", () => {
    expect(() => series(rows, 90_000)).toThrow(RangeError);
    expect(() => series(rows, 0)).toThrow(RangeError);
  });
});
