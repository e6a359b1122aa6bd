import { DDSketch } from "@datadog/sketches-js";
import { latencySummarySchema } from "@edgefleet/protocol";
import { Writer } from "protobufjs/minimal.js";
import { describe, expect, it } from "vitest";
import { MAPPING } from "./codec";
import { InvalidLatencyError, SketchDecodeError } from "./errors";
import { LatencySketch } from "./sketch";
import { exactQuantile, lognormal, rng, sketchOf } from "./test-fixtures";

const r = rng(42);
const values = (n: number, gen: () => number) => Array.from({ length: n }, gen);

describe("two 10k-value sketches, serialised, decoded and merged", () => {
  it.each([
    {
      case: "two log-normal devices, 3 ms and 12 ms",
      a: values(10_000, () => lognormal(r, 3, 0.4)),
      b: values(10_000, () => lognormal(r, 12, 0.8)),
    },
    {
      case: "uniform 0.1-1000 ms and a tight cluster at 50 ms",
      a: values(10_000, () => 0.1 + r() * 999.9),
      b: values(10_000, () => 50 + r()),
    },
    {
      case: "sub-millisecond runs and one-second outliers",
      a: values(10_000, () => lognormal(r, 0.05, 0.2)),
      b: values(10_000, () => (r() < 0.02 ? 1000 + r() * 500 : lognormal(r, 0.08, 0.3))),
    },
    { case: "constant", a: values(10_000, () => 7), b: values(10_000, () => 7) },
  ])("$case: p50/p95/p99 within 1 %, count/sum/min/max exact", ({ a, b }) => {
    // Through the wire form, JSON included, as a device sends it.
    const wire = (vs: number[]) => JSON.parse(JSON.stringify(sketchOf(vs).toSummary()));
    const merged = LatencySketch.fromSummary(latencySummarySchema.parse(wire(a)));
    merged.merge(LatencySketch.fromSummary(wire(b)));

    const union = [...a, ...b].sort((x, y) => x - y);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = exactQuantile(union, q);
      expect(Math.abs(merged.quantile(q)! - exact) / exact).toBeLessThanOrEqual(0.01);
    }
    expect(merged.count).toBe(20_000);
    expect(merged.min).toBe(union[0]);
    expect(merged.max).toBe(union[union.length - 1]);
    const sum = (vs: number[]) => vs.reduce((s, v) => s + v, 0);
    expect(merged.sum).toBe(sum(a) + sum(b));
    expect(merged.quantile(0)).toBe(union[0]);
    expect(merged.quantile(1)).toBe(union[union.length - 1]);
  });

  it("keeps a 500-value window small on the wire", () => {
    const s = sketchOf(values(500, () => lognormal(r, 5, 0.5)));
    // The occupied bins only: sketches-js's own toProto pads to chunks of 128 bins.
    const ours = s.toBytes().length;
    const theirs = ddOf(values(500, () => lognormal(r, 5, 0.5))).toProto().length;
    expect(ours).toBeLessThan(1500);
    expect(ours).toBeLessThan(theirs);
  });
});

describe("empty sketches", () => {
  const empty = new LatencySketch();
  it("reads as nothing", () => {
    expect([empty.count, empty.sum, empty.min, empty.max]).toEqual([0, 0, null, null]);
    expect(empty.quantile(0.5)).toBeNull();
    expect(empty.toSummary()).toBeNull();
  });
  it("round-trips through bytes", () => {
    const back = LatencySketch.fromBytes(empty.toBytes(), { count: 0, sum: 0 });
    expect([back.count, back.quantile(0.99)]).toEqual([0, null]);
  });
  it.each([
    { case: "empty into full", into: () => sketchOf([1, 2, 3]), from: () => new LatencySketch() },
    { case: "full into empty", into: () => new LatencySketch(), from: () => sketchOf([1, 2, 3]) },
  ])("merges $case", ({ into, from }) => {
    const source = from();
    const m = into().merge(source);
    expect([m.count, m.sum, m.min, m.max]).toEqual([3, 6, 1, 3]);
    expect(m.quantile(0.5)).toBeCloseTo(2, 1);
    source.record(100); // the merged copy does not share bins with its source
    expect(m.quantile(1)).toBe(3);
  });
});

// Key 0 holds values in (1/gamma, 1] ms: a sketch whose top bin is key 0 once lost that bin when
// merged into one below it, and the stored row then held fewer values than its count (the fold
// refused it for good).
describe("merges whose source tops out at key 0 (values near 1 ms)", () => {
  it.each([
    { case: "below into key 0 alone", into: [0.5], from: [1] },
    { case: "below into a range ending at key 0", into: [0.5], from: [0.6, 1] },
    { case: "far below into a range ending at key 0", into: [0.01, 0.02], from: [0.3, 0.995] },
    { case: "above into a range ending at key 0", into: [5, 9], from: [0.6, 1] },
    { case: "key 0 into key 0", into: [1], from: [0.999, 1] },
    { case: "zeros and key 0", into: [0, 0.2], from: [0, 0.7, 1] },
  ])("$case: nothing lost, through bytes", ({ into, from }) => {
    const merged = sketchOf(into).merge(sketchOf(from));
    const stats = { count: merged.count, sum: merged.sum, min: merged.min, max: merged.max };
    const back = LatencySketch.fromBytes(merged.toBytes(), stats);
    const union = [...into, ...from].sort((x, y) => x - y);
    expect(back.count).toBe(union.length);
    for (const q of [0.25, 0.5, 0.75, 0.99]) {
      const exact = exactQuantile(union, q);
      const got = back.quantile(q)!;
      expect(Math.abs(got - exact)).toBeLessThanOrEqual(exact * 0.01 + 1e-9);
    }
  });
});

describe("recording", () => {
  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, 2e9])("refuses %s ms", (ms) => {
    expect(() => new LatencySketch().record(ms)).toThrow(InvalidLatencyError);
  });
  it("puts sub-nanosecond values in the zero bucket", () => {
    const s = sketchOf([0, 1e-9, 5]);
    expect([s.quantile(0), s.quantile(0.5), s.quantile(1)]).toEqual([0, 0, 5]);
    const back = LatencySketch.fromBytes(s.toBytes(), { count: 3, sum: s.sum, min: 0, max: 5 });
    expect(back.quantile(0.5)).toBe(0);
  });
  it("refuses a quantile outside [0, 1]", () => {
    expect(() => sketchOf([1]).quantile(1.5)).toThrow(RangeError);
  });
});

describe("bytes", () => {
  it("without min/max reads them from the outer bins, within 1 %", () => {
    const s = sketchOf([2.5, 40, 900]);
    const back = LatencySketch.fromBytes(s.toBytes(), { count: 3, sum: s.sum });
    expect(Math.abs(back.min! - 2.5) / 2.5).toBeLessThan(0.01);
    expect(Math.abs(back.max! - 900) / 900).toBeLessThan(0.01);
  });

  // The wire is the standard DDSketch message, readable by any DDSketch library.
  it("is read by sketches-js, and reads what sketches-js writes", () => {
    const vs = values(2000, () => lognormal(r, 8, 0.6));
    const ours = sketchOf(vs);
    const theirs = ddOf(vs);
    const theirsRead = DDSketch.fromProto(ours.toBytes());
    const oursRead = LatencySketch.fromBytes(theirs.toProto(), { count: 2000, sum: theirs.sum });
    for (const q of [0.1, 0.5, 0.9, 0.99]) {
      // Not bit for bit: fromProto rebuilds its mapping from gamma through the relative accuracy.
      const want = theirs.getValueAtQuantile(q);
      expect(Math.abs(theirsRead.getValueAtQuantile(q) / want - 1)).toBeLessThan(1e-9);
      expect(oursRead.quantile(q)).toBe(ours.quantile(q));
    }
  });

  it("reads sparse bins (binCounts) as well as contiguous ones", () => {
    const k = MAPPING.key(10);
    const bytes = sketchBytes({ sparse: [[k, 2]], contiguous: [1, 0, 1], offset: k - 1 });
    const s = LatencySketch.fromBytes(bytes, { count: 4, sum: 40, min: 9.9, max: 10.4 });
    expect(s.quantile(0.5)).toBeCloseTo(10, 0);
  });
});

describe("garbage from a device is a SketchDecodeError, never a crash", () => {
  const summary = (sketch: string, count = 3) => ({
    sketch,
    count,
    sumMs: 60,
    minMs: 10,
    maxMs: 30,
  });
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
  const good = sketchOf([10, 20, 30]).toSummary()!;
  const k = MAPPING.key(10);
  it.each([
    { case: "not base64", s: summary("!!not base64!!") },
    {
      case: "base64 with a stray character",
      s: summary(`${good.sketch.slice(0, 8)}*${good.sketch.slice(9)}`),
    },
    { case: "random bytes", s: summary(b64(Uint8Array.from(values(64, () => r() * 256)))) },
    { case: "truncated", s: summary(good.sketch.slice(0, 24)) },
    { case: "empty", s: summary("") },
    { case: "count disagrees", s: { ...good, count: 4 } },
    { case: "min above max", s: { ...good, minMs: 40 } },
    { case: "another accuracy", s: summary(b64(ddOf([10, 20, 30], 0.02).toProto())) },
    { case: "negative values", s: summary(b64(ddOf([-10, 20, 30]).toProto())) },
    {
      case: "index offset",
      s: summary(b64(sketchBytes({ contiguous: [3], offset: k, indexOffset: 5 }))),
    },
    {
      case: "cubic mapping",
      s: summary(b64(sketchBytes({ contiguous: [3], offset: k, interpolation: 3 }))),
    },
    { case: "NaN count", s: summary(b64(sketchBytes({ contiguous: [Number.NaN, 3], offset: k }))) },
    { case: "negative count", s: summary(b64(sketchBytes({ contiguous: [-1, 4], offset: k }))) },
    // Keys this far apart would make a merge allocate the space between them.
    {
      case: "bins out of range",
      s: summary(
        b64(
          sketchBytes({
            sparse: [
              [k, 2],
              [2e9, 1],
            ],
          }),
        ),
      ),
    },
  ])("$case", ({ s }) => {
    expect(() => LatencySketch.fromSummary(s)).toThrow(SketchDecodeError);
  });

  it("either reads or refuses 5,000 corruptions of a good sketch, with no other error", () => {
    const bytes = sketchOf(values(300, () => lognormal(r, 5, 1))).toBytes();
    let refused = 0;
    for (let i = 0; i < 5000; i++) {
      const bad = Uint8Array.from(bytes.subarray(0, Math.floor(r() * (bytes.length + 1))));
      for (let j = 0; j < 1 + r() * 4; j++) bad[Math.floor(r() * bad.length)] = r() * 256;
      try {
        LatencySketch.fromBytes(bad, { count: 300, sum: 1500 });
      } catch (err) {
        expect(err).toBeInstanceOf(SketchDecodeError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(4900);
  });
});

function ddOf(vs: readonly number[], relativeAccuracy = 0.01): DDSketch {
  const d = new DDSketch({ relativeAccuracy });
  for (const v of vs) d.accept(v);
  return d;
}

/** A hand-written DDSketch message, to reach what our encoder never writes. */
function sketchBytes(o: {
  contiguous?: number[];
  offset?: number;
  sparse?: [number, number][];
  indexOffset?: number;
  interpolation?: number;
}): Uint8Array {
  const w = Writer.create();
  w.uint32(10).fork().uint32(9).double(MAPPING.gamma);
  w.uint32(17)
    .double(o.indexOffset ?? 0)
    .uint32(24)
    .int32(o.interpolation ?? 0)
    .ldelim();
  w.uint32(18).fork();
  for (const [key, count] of o.sparse ?? []) {
    w.uint32(10).fork().uint32(8).sint32(key).uint32(17).double(count).ldelim();
  }
  if (o.contiguous)
    w.uint32(18)
      .doubles(o.contiguous)
      .uint32(24)
      .sint32(o.offset ?? 0);
  return w.ldelim().finish();
}
