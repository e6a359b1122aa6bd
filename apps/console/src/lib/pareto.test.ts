import { describe, expect, it } from "vitest";
import { type ParetoPoint, paretoFront, scatterColumns } from "./pareto";

const p = (id: string, bytes: number, latencyMs: number, accuracy: number | null): ParetoPoint => ({
  id,
  bytes,
  latencyMs,
  accuracy,
});

describe("paretoFront", () => {
  it.each([
    ["one point is the front", [p("a", 10, 1, 0.9)], ["a"]],
    [
      "smaller, faster and as accurate dominates",
      [p("fp32", 100, 5, 0.95), p("int8", 25, 2, 0.95)],
      ["int8"],
    ],
    ["a trade-off keeps both", [p("fp32", 100, 5, 0.97), p("int4", 15, 1, 0.93)], ["fp32", "int4"]],
    [
      "worse on every axis is dominated",
      [p("fp32", 100, 5, 0.97), p("int4", 15, 1, 0.93), p("bad", 120, 6, 0.9)],
      ["fp32", "int4"],
    ],
    ["equal points both stay", [p("a", 10, 1, 0.9), p("b", 10, 1, 0.9)], ["a", "b"]],
    [
      "unknown accuracy counts as worst",
      [p("known", 10, 1, 0.5), p("unknown", 10, 1, null)],
      ["known"],
    ],
  ] as [string, ParetoPoint[], string[]][])("%s", (_name, points, front) => {
    expect([...paretoFront(points)].sort()).toEqual([...front].sort());
  });
});

describe("scatterColumns", () => {
  it("aligns groups on sorted unique x with nulls", () => {
    expect(
      scatterColumns([
        [
          { x: 30, y: 1 },
          { x: 10, y: 2 },
        ],
        [
          { x: 20, y: 3 },
          { x: 10, y: 4 },
        ],
      ]),
    ).toEqual([
      [10, 20, 30],
      [2, null, 1],
      [4, 3, null],
    ]);
  });
});
