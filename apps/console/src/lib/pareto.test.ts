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
  it("gives every point its own x, ascending, each group's y there and null elsewhere", () => {
    expect(
      scatterColumns([
        [
          { x: 30, y: 1, name: "a" },
          { x: 10, y: 2, name: "b" },
        ],
        [
          { x: 20, y: 3, name: "c" },
          { x: 10, y: 4 },
        ],
      ]),
    ).toEqual({
      xs: [10, 10, 20, 30],
      ys: [
        [2, null, null, 1],
        [null, 4, 3, null],
      ],
      names: ["b", null, "c", "a"],
    });
  });

  it("keeps variants of the same size in one group apart", () => {
    const { xs, ys, names } = scatterColumns([
      [
        { x: 271, y: 0.05, name: "int8-weights" },
        { x: 271, y: 0.08, name: "fp8-weights" },
      ],
    ]);
    expect(xs).toEqual([271, 271]);
    expect(ys).toEqual([[0.05, 0.08]]);
    expect(names).toEqual(["int8-weights", "fp8-weights"]);
  });
});
