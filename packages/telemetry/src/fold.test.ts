import type { Telemetry } from "@edgefleet/protocol";
import { describe, expect, it } from "vitest";
import type { Cursor } from "./cursor";
import { RollupKeyMismatchError } from "./errors";
import {
  foldTelemetry,
  fromStoredRollup,
  mergeRollup,
  type RollupDelta,
  type StoredRollup,
  toStoredRollup,
} from "./fold";
import { rng, sketchOf, T0, telemetry, VARIANT_A, VARIANT_B } from "./test-fixtures";

const S = 1000;
type In = [deviceId: string, epoch: number, seq: number, over?: Partial<Telemetry>];
const batchOf = (ins: In[]) =>
  ins.map(([deviceId, epoch, seq, over]) => ({
    deviceId,
    // Five-second windows in order of seq unless the case says otherwise.
    message: telemetry({
      epoch,
      seq,
      windowStart: T0 + seq * 5 * S,
      windowEnd: T0 + (seq + 1) * 5 * S,
      ...over,
    }),
  }));
const cursorsOf = (c: Record<string, [number, number]>) =>
  new Map(Object.entries(c).map(([d, [epoch, seq]]) => [d, { epoch, seq }]));
/** "d1 A 12:00 x2": device, variant, minute (UTC), messages. */
const describeDelta = (d: RollupDelta) =>
  `${d.deviceId} ${d.variantId === VARIANT_A ? "A" : "B"} ${d.minute.toISOString().slice(11, 16)} x${d.messages}`;

describe("folding a batch", () => {
  it.each([
    {
      case: "one message",
      batch: [["d1", 1, 0]],
      deltas: ["d1 A 12:00 x1"],
      folded: 1,
      cursors: { d1: [1, 0] },
    },
    {
      case: "a redelivery within the batch",
      batch: [
        ["d1", 1, 0],
        ["d1", 1, 0],
      ],
      deltas: ["d1 A 12:00 x1"],
      folded: 1,
      duplicates: 1,
      cursors: { d1: [1, 0] },
    },
    {
      case: "at or below the stored cursor",
      given: { d1: [1, 5] },
      batch: [
        ["d1", 1, 4],
        ["d1", 1, 5],
        ["d1", 1, 6],
      ],
      deltas: ["d1 A 12:00 x1"],
      folded: 1,
      duplicates: 2,
      cursors: { d1: [1, 6] },
    },
    {
      case: "out of order",
      batch: [
        ["d1", 1, 2],
        ["d1", 1, 0],
        ["d1", 1, 1],
      ],
      deltas: ["d1 A 12:00 x3"],
      folded: 3,
      cursors: { d1: [1, 2] },
    },
    {
      // Lexicographic: the new epoch's seq 0 is newer than anything of the old one, and the old
      // epoch's last message, arriving with it, is still taken first.
      case: "a restart's epoch starts seq again",
      given: { d1: [1, 100] },
      batch: [
        ["d1", 2, 0],
        ["d1", 1, 101, { windowStart: T0 }],
        ["d1", 1, 99, { windowStart: T0 }],
      ],
      deltas: ["d1 A 12:00 x2"],
      folded: 2,
      duplicates: 1,
      cursors: { d1: [2, 0] },
    },
    {
      case: "only duplicates: the cursor is not returned",
      given: { d1: [1, 5] },
      batch: [["d1", 1, 3]],
      deltas: [],
      duplicates: 1,
      cursors: {},
    },
    {
      case: "two variants in one minute",
      batch: [
        ["d1", 1, 0],
        ["d1", 1, 1, { variantId: VARIANT_B }],
      ],
      deltas: ["d1 A 12:00 x1", "d1 B 12:00 x1"],
      folded: 2,
      cursors: { d1: [1, 1] },
    },
    {
      case: "two minutes",
      batch: [
        ["d1", 1, 0, { windowStart: T0 + 50 * S }],
        ["d1", 1, 1, { windowStart: T0 + 61 * S }],
      ],
      deltas: ["d1 A 12:00 x1", "d1 A 12:01 x1"],
      folded: 2,
      cursors: { d1: [1, 1] },
    },
    {
      // Bucketed whole by the minute its window starts in (see foldTelemetry).
      case: "a window straddling a minute boundary",
      batch: [["d1", 1, 0, { windowStart: T0 + 58 * S, windowEnd: T0 + 63 * S }]],
      deltas: ["d1 A 12:00 x1"],
      folded: 1,
      cursors: { d1: [1, 0] },
    },
    {
      case: "nothing loaded: the cursor moves, nothing is rolled up",
      batch: [["d1", 1, 0, { variantId: null }]],
      deltas: [],
      skippedNoVariant: 1,
      cursors: { d1: [1, 0] },
    },
    {
      case: "a sketch that does not decode: consumed, reported, the rest folded",
      batch: [
        ["d1", 1, 0, { latency: { sketch: "!!", count: 1, sumMs: 1, minMs: 1, maxMs: 1 } }],
        ["d1", 1, 1],
      ],
      deltas: ["d1 A 12:00 x1"],
      folded: 1,
      invalid: ["d1 1/0"],
      cursors: { d1: [1, 1] },
    },
    {
      case: "devices interleaved are each taken by themselves",
      given: { d2: [1, 0] },
      batch: [
        ["d1", 1, 1],
        ["d2", 1, 0],
        ["d1", 1, 0],
        ["d2", 1, 1],
        ["d2", 1, 1],
      ],
      deltas: ["d1 A 12:00 x2", "d2 A 12:00 x1"],
      folded: 3,
      duplicates: 2,
      cursors: { d1: [1, 1], d2: [1, 1] },
    },
  ] as {
    case: string;
    given?: Record<string, [number, number]>;
    batch: In[];
    deltas: string[];
    folded?: number;
    duplicates?: number;
    skippedNoVariant?: number;
    invalid?: string[];
    cursors: Record<string, [number, number]>;
  }[])("$case", (c) => {
    const given = cursorsOf(c.given ?? {});
    const r = foldTelemetry(batchOf(c.batch), given);
    expect(r.deltas.map(describeDelta).sort()).toEqual(c.deltas);
    expect([r.folded, r.duplicates, r.skippedNoVariant]).toEqual([
      c.folded ?? 0,
      c.duplicates ?? 0,
      c.skippedNoVariant ?? 0,
    ]);
    expect(r.invalid.map((i) => `${i.deviceId} ${i.epoch}/${i.seq}`)).toEqual(c.invalid ?? []);
    const positions = new Map([...r.cursors].map(([d, { epoch, seq }]) => [d, { epoch, seq }]));
    expect(positions).toEqual(cursorsOf(c.cursors));
    expect(given).toEqual(cursorsOf(c.given ?? {})); // not mutated
  });

  it("folds a message redelivered after newer ones were folded, once", () => {
    // Batch 1 (seq 0-1) went to a control plane killed before its ack; the next one folded 2-3.
    const first = foldTelemetry(
      batchOf([
        ["d1", 1, 2],
        ["d1", 1, 3],
      ]),
      new Map(),
    );
    const again = batchOf([
      ["d1", 1, 0],
      ["d1", 1, 1],
      ["d1", 1, 3],
    ]);
    const second = foldTelemetry(again, first.cursors);
    expect([second.folded, second.duplicates]).toEqual([2, 1]);
    const third = foldTelemetry(again, new Map([...first.cursors, ...second.cursors]));
    expect([third.folded, third.duplicates]).toEqual([0, 3]);
  });

  it("adds counters, merges sketches and keeps maxima", () => {
    const { deltas } = foldTelemetry(
      batchOf([
        [
          "d1",
          1,
          0,
          {
            requests: 3,
            errors: 1,
            rejected: 0,
            runs: 4,
            samples: 9,
            cpuPercent: 50,
            rssBytes: 80e6,
            shadow: { compared: 7, agreed: 6 },
          },
        ],
        [
          "d1",
          1,
          1,
          {
            ...{
              requests: 2,
              errors: 0,
              rejected: 5,
              runs: 1,
              samples: 1,
              cpuPercent: 20,
              rssBytes: 90e6,
              shadow: { compared: 3, agreed: 1 },
            },
            ...{
              latency: sketchOf([100, 200]).toSummary(),
              runBatch1: null,
              queueDepth: 6,
              queueDepthMax: 4,
            },
          },
        ],
      ]),
      new Map(),
    );
    expect(deltas).toHaveLength(1);
    const d = deltas[0];
    expect(d).toMatchObject({
      ...{ deviceId: "d1", variantId: VARIANT_A, minute: new Date(T0), messages: 2 },
      ...{ requests: 5, errors: 1, rejected: 5, runs: 5, samples: 10 },
      ...{ queueDepthMax: 6, cpuPercentMax: 50, rssBytesMax: 90e6 },
      ...{ shadowCompared: 10, shadowAgreed: 7 },
    });
    expect([d.latency?.count, d.latency?.sum, d.latency?.min, d.latency?.max]).toEqual([
      5, 360, 10, 200,
    ]);
    expect([d.run?.count, d.run?.sum, d.run?.min, d.run?.max]).toEqual([2, 5, 2, 3]);
  });
});

describe("rows", () => {
  const delta = () => foldTelemetry(batchOf([["d1", 1, 0]]), new Map()).deltas[0];

  it("round-trip between memory and storage", () => {
    const stored = toStoredRollup(delta());
    expect(stored).toMatchObject({
      latencyCount: 3,
      latencySumMs: 60,
      latencyMinMs: 10,
      latencyMaxMs: 30,
    });
    expect(stored).toMatchObject({ runCount: 2, runSumMs: 5 });
    expect(toStoredRollup(fromStoredRollup(stored))).toEqual(stored);
  });

  it("store no sketch for no data", () => {
    const d = foldTelemetry(batchOf([["d1", 1, 0, { latency: null, runBatch1: null }]]), new Map())
      .deltas[0];
    expect(toStoredRollup(d)).toMatchObject({
      ...{
        latencySketch: null,
        latencyCount: 0,
        latencySumMs: 0,
        latencyMinMs: null,
        latencyMaxMs: null,
      },
      ...{ runSketch: null, runCount: 0, runSumMs: 0 },
    });
  });

  it("merge into an existing row without touching the delta", () => {
    const d = delta();
    const row = mergeRollup(mergeRollup(undefined, d), d);
    expect(row).toMatchObject({
      messages: 2,
      requests: 6,
      latencyCount: 6,
      latencySumMs: 120,
      runCount: 4,
    });
    expect(d.latency?.count).toBe(3);
  });

  it("refuse a delta for another key", () => {
    const other = { ...delta(), minute: new Date(T0 + 60 * S) };
    expect(() => mergeRollup(toStoredRollup(delta()), other)).toThrow(RollupKeyMismatchError);
  });
});

describe("merging with existing rows equals folding everything at once", () => {
  it.each([1, 2, 3, 4, 5, 6])("seed %i", (seed) => {
    const random = rng(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
    const stream = fleetStream(random, 6, 30);

    // Batches of the stream in order; within a batch shuffled, plus redeliveries of anything sent.
    let cursors = new Map<string, Cursor>();
    const rows = new Map<string, StoredRollup>();
    const sent: (typeof stream)[number][] = [];
    let redelivered = 0;
    let folded = 0;
    let duplicates = 0;
    for (let i = 0; i < stream.length; ) {
      const n = 1 + Math.floor(random() * 25);
      const batch = stream.slice(i, i + n);
      i += n;
      sent.push(...batch);
      for (let k = Math.floor(random() * 4); k > 0; k--, redelivered++) batch.push(pick(sent));
      for (let k = batch.length - 1; k > 0; k--) {
        const j = Math.floor(random() * (k + 1));
        [batch[k], batch[j]] = [batch[j], batch[k]];
      }
      const r = foldTelemetry(batch, cursors);
      folded += r.folded;
      duplicates += r.duplicates;
      cursors = new Map([...cursors, ...r.cursors]);
      for (const d of r.deltas) {
        const key = rowKey(d);
        rows.set(key, mergeRollup(rows.get(key), d));
      }
    }

    const once = foldTelemetry(stream, new Map());
    expect([once.duplicates, once.folded]).toEqual([0, folded]);
    expect(duplicates).toBe(redelivered);
    expect(rows.size).toBe(once.deltas.length);
    for (const d of once.deltas) {
      const want = toStoredRollup(d);
      const got = rows.get(rowKey(d))!;
      // Sums of floats added in another order differ in the last bits; everything else is exact.
      expect(got.latencySumMs).toBeCloseTo(want.latencySumMs, 6);
      expect(got.runSumMs).toBeCloseTo(want.runSumMs, 6);
      const exact = (r: StoredRollup) => ({ ...r, latencySumMs: 0, runSumMs: 0 });
      expect(exact(got)).toEqual(exact(want));
    }
    expect(redelivered).toBeGreaterThan(0);
  });
});

function rowKey(d: { deviceId: string; variantId: string; minute: Date }): string {
  return `${d.deviceId} ${d.variantId} ${d.minute.getTime()}`;
}

/** Devices sending five-second windows in order, a restart halfway, a variant change, idle spells. */
function fleetStream(random: () => number, devices: number, perDevice: number) {
  const out: { deviceId: string; message: Telemetry }[] = [];
  for (let i = 0; i < perDevice; i++) {
    for (let d = 0; d < devices; d++) {
      const restarted = i >= perDevice / 2;
      const windowStart = T0 + d * 7 * S + i * 5 * S;
      const latencies = Array.from({ length: Math.floor(random() * 40) }, () => 1 + random() * 99);
      const runs = Array.from({ length: Math.floor(random() * 10) }, () => 0.5 + random() * 9.5);
      const latency = sketchOf(latencies);
      out.push({
        deviceId: `d${d}`,
        message: telemetry({
          ...{ epoch: restarted ? 2 : 1, seq: restarted ? i - perDevice / 2 : i },
          ...{ windowStart, windowEnd: windowStart + 5 * S },
          variantId: random() < 0.1 ? null : i % 17 < 9 ? VARIANT_A : VARIANT_B,
          requests: latency.count,
          errors: Math.floor(random() * 3),
          latency: latency.toSummary(),
          runBatch1: sketchOf(runs).toSummary(),
          runs: runs.length + 2,
          samples: runs.length + 8,
          queueDepthMax: Math.floor(random() * 20),
          cpuPercent: random() * 200,
          rssBytes: Math.floor(50e6 + random() * 50e6),
        }),
      });
    }
  }
  return out;
}
