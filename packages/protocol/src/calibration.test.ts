import { describe, expect, it } from "vitest";
import {
  CalibrationReplyError,
  checkCalibrationReply,
  decodeCounts,
  type ExpectedReply,
  encodeCounts,
} from "./calibration";

const runId = "7d3c8f0e-1c2b-4a5d-9e6f-0a1b2c3d4e5f";
const targets = ["input", "relu1"];
const round1: ExpectedReply = { deviceId: "dev-a", runId, round: 1, targets };
const round2: ExpectedReply = {
  deviceId: "dev-a",
  runId,
  round: 2,
  targets,
  bins: 4,
  ranges: new Map([
    ["input", [0, 1]],
    ["relu1", [0, 8]],
  ]),
  counts: new Map([
    ["input", 10],
    ["relu1", 6],
  ]),
};

const goodRanges = {
  input: { min: 0, max: 1, count: 10 },
  relu1: { min: 0, max: 8, count: 6 },
};
const counts = (...c: number[]) => encodeCounts(Float64Array.from(c));
const goodHists = {
  input: { lo: 0, hi: 1, counts: counts(1, 2, 3, 4) },
  relu1: { lo: 0, hi: 8, counts: counts(6, 0, 0, 0) },
};
const r1 = (over: Record<string, unknown> = {}) => ({
  ok: true,
  runId,
  round: 1,
  samples: 10,
  ranges: goodRanges,
  ...over,
});
const r2 = (over: Record<string, unknown> = {}) => ({
  ok: true,
  runId,
  round: 2,
  samples: 10,
  histograms: goodHists,
  ...over,
});

describe("calibration replies", () => {
  it("accepts a well-formed round 1 and round 2 reply", () => {
    const a = checkCalibrationReply(r1(), round1);
    expect(a.round === 1 && a.ranges.get("relu1")).toEqual({ min: 0, max: 8, count: 6 });
    const b = checkCalibrationReply(r2(), round2);
    expect(b.round === 2 && [...b.histograms.get("input")!.counts]).toEqual([1, 2, 3, 4]);
  });

  const refused: Array<{ name: string; reply: unknown; expect: ExpectedReply; field: string }> = [
    { name: "not an object", reply: "stats", expect: round1, field: "(root)" },
    {
      name: "a device error",
      reply: { ok: false, error: "no local data" },
      expect: round1,
      field: "error",
    },
    {
      name: "another run",
      reply: r1({ runId: "00000000-0000-4000-8000-000000000000" }),
      expect: round1,
      field: "runId",
    },
    { name: "the wrong round", reply: r1({ round: 2 }), expect: round1, field: "round" },
    { name: "no ranges", reply: r1({ ranges: undefined }), expect: round1, field: "ranges" },
    {
      name: "a missing tensor",
      reply: r1({ ranges: { input: goodRanges.input } }),
      expect: round1,
      field: "ranges.relu1",
    },
    {
      name: "an extra tensor",
      reply: r1({ ranges: { ...goodRanges, secret: { min: 0, max: 1, count: 1 } } }),
      expect: round1,
      field: "ranges.secret",
    },
    {
      name: "NaN",
      reply: r1({ ranges: { ...goodRanges, input: { min: Number.NaN, max: 1, count: 1 } } }),
      expect: round1,
      field: "ranges.input.min",
    },
    {
      name: "infinity (as JSON null)",
      reply: JSON.parse(
        JSON.stringify(
          r1({
            ranges: { ...goodRanges, input: { min: 0, max: Number.POSITIVE_INFINITY, count: 1 } },
          }),
        ),
      ),
      expect: round1,
      field: "ranges.input.max",
    },
    {
      name: "min above max",
      reply: r1({ ranges: { ...goodRanges, input: { min: 2, max: 1, count: 1 } } }),
      expect: round1,
      field: "ranges.input",
    },
    { name: "zero samples", reply: r1({ samples: 0 }), expect: round1, field: "samples" },
    {
      name: "a wrong bin count",
      reply: r2({ histograms: { ...goodHists, input: { lo: 0, hi: 1, counts: counts(1, 2, 7) } } }),
      expect: round2,
      field: "histograms.input.counts",
    },
    {
      name: "another range than the merged one",
      reply: r2({
        histograms: { ...goodHists, relu1: { lo: 0, hi: 7, counts: counts(6, 0, 0, 0) } },
      }),
      expect: round2,
      field: "histograms.relu1",
    },
    {
      name: "a negative count",
      reply: r2({
        histograms: { ...goodHists, relu1: { lo: 0, hi: 8, counts: counts(7, -1, 0, 0) } },
      }),
      expect: round2,
      field: "histograms.relu1.counts",
    },
    {
      name: "a NaN count",
      reply: r2({
        histograms: { ...goodHists, relu1: { lo: 0, hi: 8, counts: counts(Number.NaN, 6, 0, 0) } },
      }),
      expect: round2,
      field: "histograms.relu1.counts",
    },
    {
      name: "counts that disagree with round 1",
      reply: r2({
        histograms: { ...goodHists, relu1: { lo: 0, hi: 8, counts: counts(5, 0, 0, 0) } },
      }),
      expect: round2,
      field: "histograms.relu1.counts",
    },
    {
      name: "counts that are not base64 float64",
      reply: r2({ histograms: { ...goodHists, relu1: { lo: 0, hi: 8, counts: "AAAA" } } }),
      expect: round2,
      field: "histograms.relu1.counts",
    },
    {
      name: "ranges instead of histograms",
      reply: r1({ round: 2 }),
      expect: round2,
      field: "histograms",
    },
  ];
  it.each(refused)("refuses $name, naming the device and $field", ({ reply, expect: e, field }) => {
    let caught: unknown;
    try {
      checkCalibrationReply(reply, e);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CalibrationReplyError);
    const err = caught as CalibrationReplyError;
    expect(err.deviceId).toBe("dev-a");
    expect(err.field).toBe(field);
    expect(err.message).toMatch(/^device dev-a: /);
  });

  it("round-trips counts exactly, in a size set by the bin count alone", () => {
    const small = Float64Array.from({ length: 2048 }, (_, i) => i % 3);
    const big = Float64Array.from({ length: 2048 }, (_, i) => 1e12 + i);
    expect([...decodeCounts(encodeCounts(big))]).toEqual([...big]);
    expect(encodeCounts(small).length).toBe(encodeCounts(big).length);
  });
});
