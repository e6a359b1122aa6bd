import { describe, expect, it } from "vitest";
import {
  allowPrefetch,
  argmaxRows,
  cancelRefusal,
  countCorrect,
  decideDelivery,
  decideResult,
  isComplete,
  maxShardSize,
  planShards,
  throughput,
  wallThroughput,
} from "./job-plan";

describe("planShards", () => {
  it.each([
    [
      10,
      5,
      [
        [0, 0, 5],
        [1, 5, 5],
      ],
    ],
    [
      10,
      3,
      [
        [0, 0, 3],
        [1, 3, 3],
        [2, 6, 3],
        [3, 9, 1],
      ],
    ],
    [1, 100, [[0, 0, 1]]],
    [10_000, 100, null],
  ])("%i inputs in shards of %i", (samples, size, expected) => {
    const shards = planShards(samples, size);
    if (expected) expect(shards.map((s) => [s.index, s.start, s.count])).toEqual(expected);
    // Every input in exactly one shard, in order.
    expect(shards.reduce((n, s) => n + s.count, 0)).toBe(samples);
    for (const [i, s] of shards.entries()) {
      expect(s.start).toBe(i === 0 ? 0 : shards[i - 1].start + shards[i - 1].count);
    }
  });

  it.each([
    [0, 10],
    [10, 0],
    [10, 1.5],
  ])("refuses %i inputs / shard size %i", (samples, size) => {
    expect(() => planShards(samples, size)).toThrow(RangeError);
  });
});

describe("maxShardSize", () => {
  it.each([
    [[784], 2 ** 20, Math.floor((2 ** 20 - 65536) / 3136)],
    [[3, 224, 224], 2 ** 20, 1],
    [[3, 512, 512], 2 ** 20, 0],
  ])("samples of %j under %i bytes", (dims, payload, expected) => {
    expect(maxShardSize(dims, payload)).toBe(expected);
  });
});

describe("decideDelivery", () => {
  it.each([
    ["pending", 1, 3, null, "serve"],
    ["pending", 3, 3, "boom", "serve"],
    ["pending", 4, 3, null, "park"],
    ["done", 2, 3, null, "drop"],
    ["parked", 1, 3, "x", "drop"],
  ] as const)("%s shard, delivery %i of %i attempts", (state, delivery, max, last, action) => {
    expect(decideDelivery(state, delivery, max, last).action).toBe(action);
  });

  it("says why it parks: the last error, or that the holders were lost", () => {
    expect(decideDelivery("pending", 4, 3, "bad input")).toEqual({
      action: "park",
      error: "gave up after 3 attempts: bad input",
    });
    expect(decideDelivery("pending", 4, 3, null)).toMatchObject({
      error: /devices holding it were lost/,
    });
  });
});

describe("decideResult", () => {
  const ok = { ok: true } as const;
  const fail = { ok: false, error: "oom" } as const;
  it.each([
    ["pending", ok, 0, 3, "store"],
    ["pending", ok, 2, 3, "store"],
    ["done", ok, 0, 3, "duplicate"],
    ["parked", ok, 0, 3, "duplicate"],
    ["done", fail, 0, 3, "duplicate"],
    ["pending", fail, 0, 3, "retry"],
    ["pending", fail, 1, 3, "retry"],
    ["pending", fail, 2, 3, "park"],
    ["pending", fail, 0, 1, "park"],
  ] as const)("%s shard, %j after %i attempts of %i", (state, result, attempts, max, action) => {
    expect(decideResult(state, result, attempts, max).action).toBe(action);
  });

  it("parks with the count and the last error", () => {
    expect(decideResult("pending", { ok: false, error: "oom" }, 2, 3)).toEqual({
      action: "park",
      error: "failed 3 times; last: oom",
    });
  });
});

describe("allowPrefetch", () => {
  it.each([
    [true, 10, 4, true],
    [true, 5, 4, true],
    [true, 4, 4, false],
    [true, 0, 1, false],
    [false, 100, 1, false],
  ])("enabled %s, %i queued, %i members", (enabled, queued, members, expected) => {
    expect(allowPrefetch(enabled, queued, members)).toBe(expected);
  });
});

describe("isComplete", () => {
  it.each([
    [{ pending: 0, done: 3, parked: 1 }, true],
    [{ pending: 0, done: 0, parked: 2 }, true],
    [{ pending: 1, done: 3, parked: 0 }, false],
  ])("%j", (counts, expected) => expect(isComplete(counts)).toBe(expected));
});

describe("throughput", () => {
  it("rates per device from model time, summed per class", () => {
    const t = throughput([
      { deviceId: "a", deviceClass: "rpi4", count: 100, runMs: 1000 },
      { deviceId: "a", deviceClass: "rpi4", count: 100, runMs: 1000 },
      { deviceId: "b", deviceClass: "rpi4", count: 100, runMs: 500 },
      { deviceId: "c", deviceClass: "", count: 50, runMs: 10 },
    ]);
    expect(t.perDevice).toEqual([
      { key: "a", shards: 2, samples: 200, samplesPerSecond: 100 },
      { key: "b", shards: 1, samples: 100, samplesPerSecond: 200 },
      { key: "c", shards: 1, samples: 50, samplesPerSecond: 5000 },
    ]);
    expect(t.perClass).toEqual([
      { key: "rpi4", shards: 3, samples: 300, samplesPerSecond: 300 },
      { key: "real", shards: 1, samples: 50, samplesPerSecond: 5000 },
    ]);
  });

  it("is empty with nothing done, and 0 for zero model time", () => {
    expect(throughput([])).toEqual({ perDevice: [], perClass: [] });
    expect(
      throughput([{ deviceId: "a", deviceClass: "x", count: 5, runMs: 0 }]).perDevice[0]
        .samplesPerSecond,
    ).toBe(0);
  });

  it("wall throughput over the job's seconds", () => {
    expect(wallThroughput(500, new Date(0), new Date(2000))).toBe(250);
    expect(wallThroughput(500, new Date(0), new Date(0))).toBe(0);
  });
});

describe("argmaxRows / countCorrect", () => {
  it.each([
    [[0.1, 0.9, 0.5, 0.2], 2, [1, 0]],
    [[3, 1, 2, 0, 0, 5], 3, [0, 2]],
    [[1, 1, 0], 3, [0]],
  ])("%j in rows of %i", (scores, classes, expected) => {
    expect(argmaxRows(scores, classes)).toEqual(expected);
  });

  it("counts matches", () => {
    expect(countCorrect([1, 2, 3], Uint8Array.from([1, 0, 3]))).toBe(2);
  });
});

describe("cancelRefusal", () => {
  it.each([
    ["running", null],
    ["completed", "the job is completed: there is nothing left to cancel"],
    ["cancelled", "the job is already cancelled"],
  ])("%s -> %s", (state, want) => {
    expect(cancelRefusal(state)).toBe(want);
  });
});

describe("decideResult after a cancel", () => {
  it.each([
    ["pending", { ok: true as const }, { action: "late" }],
    ["done", { ok: true as const }, { action: "late" }],
    ["pending", { ok: false as const, error: "boom" }, { action: "late" }],
  ] as const)("shard %s, result %o -> %o", (shard, result, want) => {
    expect(decideResult(shard, result, 0, 3, "cancelled")).toEqual(want);
  });

  it("a completed job's result for a settled shard is a duplicate", () => {
    expect(decideResult("done", { ok: true }, 0, 3, "completed")).toEqual({ action: "duplicate" });
  });
});
