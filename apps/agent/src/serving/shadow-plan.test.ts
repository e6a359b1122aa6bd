import { describe, expect, it } from "vitest";
import {
  chooseShadow,
  compareTop1,
  OutputShapeError,
  planShadowRun,
  planShadowSample,
  type ShadowCandidate,
  top1,
} from "./shadow-plan";

const m = (digest: string, sampleDims = [784]): ShadowCandidate => ({ digest, sampleDims });

describe("chooseShadow", () => {
  it.each([
    ["not asked for", false, m("b"), m("a"), null, { keep: "none" }],
    ["the variant that served before", true, m("b"), m("a"), null, { keep: "previous" }],
    [
      "the variant that served before, over an older shadow",
      true,
      m("c"),
      m("b"),
      m("a"),
      { keep: "previous" },
    ],
    [
      "the same artifact re-applied: the shadow held so far stays",
      true,
      m("b"),
      m("b"),
      m("a"),
      { keep: "current" },
    ],
    [
      "the same artifact re-applied, no shadow held: none (it would compare with itself)",
      true,
      m("b"),
      m("b"),
      null,
      { keep: "none", reason: "the variant serving before is the same artifact" },
    ],
    [
      "nothing served before",
      true,
      m("b"),
      null,
      null,
      { keep: "none", reason: "nothing served before this variant" },
    ],
    [
      "the variant before takes other input",
      true,
      m("b", [28, 28]),
      m("a", [784]),
      null,
      {
        keep: "none",
        reason: "the variant serving before takes input [784], the new one [28, 28]",
      },
    ],
  ])("%s", (_what, requested, next, previous, current, expected) => {
    expect(chooseShadow({ requested, next, previous, current })).toEqual(expected);
  });
});

describe("planShadowSample", () => {
  it.each([
    [0.1, 0.05, "ready", "run"],
    [0.1, 0.1, "ready", "unsampled"], // draw < rate: a rate of 0.1 takes draws in [0, 0.1)
    [0.1, 0.5, "ready", "unsampled"],
    [1, 0.999_999, "ready", "run"], // rate 1 samples every request
    [0.1, 0.05, "busy", "busy"], // one comparison at a time: skipped, never queued
    [0.1, 0.05, "draining", "draining"], // the old model still finishes its own requests
    [0.1, 0.5, "busy", "unsampled"], // unsampled requests are no skips
  ] as const)("rate %s, draw %s, shadow %s -> %s", (rate, draw, status, expected) => {
    expect(planShadowSample(rate, draw, status)).toBe(expected);
  });

  it("samples about the rate over a seeded sequence of draws", () => {
    let s = 42;
    const draw = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
    const runs = Array.from({ length: 10_000 }, () => planShadowSample(0.2, draw(), "ready"));
    const share = runs.filter((r) => r === "run").length / runs.length;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.22);
  });
});

describe("planShadowRun", () => {
  it.each([
    [{ primaryPending: 0, samples: 1, shadowDynamicBatch: true }, "run"],
    [{ primaryPending: 2, samples: 1, shadowDynamicBatch: true }, "primaryBusy"],
    [{ primaryPending: 0, samples: 1, shadowDynamicBatch: false, shadowFixedBatch: 1 }, "run"],
    [
      { primaryPending: 0, samples: 4, shadowDynamicBatch: false, shadowFixedBatch: 1 },
      "incompatible",
    ],
  ])("%j -> %s", (input, expected) => {
    expect(planShadowRun(input)).toBe(expected);
  });
});

describe("top1 and compareTop1", () => {
  it.each([
    ["one sample", [0.1, 0.7, 0.2], 1, [1]],
    ["two samples", [0.1, 0.7, 0.2, 5, -1, 4], 2, [1, 0]],
    ["ties go to the first", [3, 3, 1], 1, [0]],
    ["NaN never wins", [Number.NaN, -5, -7], 1, [1]],
    ["negative logits", [-3, -1, -2], 1, [1]],
  ])("%s", (_what, data, samples, expected) => {
    expect(Array.from(top1(Float32Array.from(data), samples))).toEqual(expected);
  });

  it.each([
    [[1, 2, 3], 2],
    [[], 1],
    [[1, 2], 0],
  ])("refuses %j as %s samples", (data, samples) => {
    expect(() => top1(Float32Array.from(data), samples)).toThrow(OutputShapeError);
  });

  it("compares per sample, on the top-1 class only (not the values)", () => {
    const primary = Float32Array.from([0.1, 0.9, 0, 0.8, 0.1, 0.1, 0.3, 0.3, 0.4]);
    const shadow = Float32Array.from([-1, 5, 2, 0, 1, 0, 0.9, 0.05, 0.05]);
    expect(compareTop1(primary, shadow, 3)).toEqual([true, false, false]);
  });

  it("compares outputs of different widths by class index", () => {
    // A shadow with more classes: class 1 against class 1 agrees.
    expect(compareTop1(Float32Array.from([0, 1]), Float32Array.from([0, 1, 0.5]), 1)).toEqual([
      true,
    ]);
  });
});
