import { describe, expect, it } from "vitest";
import { argmaxAndScores, ShardOutputError } from "./shard-outputs";

describe("argmaxAndScores", () => {
  it.each([
    [[0.1, 0.7, 0.2, 0.9, 0.05, 0.05], 2, 3, [1, 0]],
    [[5, -1], 1, 2, [0]],
    [[1, 2, 3, 4], 4, 1, [0, 0, 0, 0]],
  ])("%j over %i inputs", (values, count, classes, argmax) => {
    const r = argmaxAndScores(Float32Array.from(values), count);
    expect(r.classes).toBe(classes);
    expect(r.argmax).toEqual(argmax);
    expect(r.scores).toEqual(Array.from(Float32Array.from(values)));
  });

  it.each([
    [[1, 2, 3], 2],
    [[], 1],
    [[1], 0],
  ])("refuses %j for %i inputs", (values, count) => {
    expect(() => argmaxAndScores(Float32Array.from(values), count)).toThrow(ShardOutputError);
  });
});
