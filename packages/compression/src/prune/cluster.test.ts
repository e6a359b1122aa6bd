import { describe, expect, it } from "vitest";
import { createMlp, type Dense } from "../nn/model";
import { clusterWeights, shareWeights } from "./cluster";

describe("clusterWeights", () => {
  it.each([
    { w: [1, 1.1, 0, 5, 5.2], k: 2, centroids: [1.05, 5.1], assignment: [0, 0, -1, 1, 1] },
    { w: [-2, -1.9, 0.5, 0.7, 3], k: 3, centroids: [-1.95, 0.6, 3], assignment: [0, 0, 1, 1, 2] },
    { w: [0, 0, 0], k: 4, centroids: [], assignment: [-1, -1, -1] },
    { w: [2, 2, 2], k: 1, centroids: [2], assignment: [0, 0, 0] },
  ])("$w into $k", ({ w, k, centroids, assignment }) => {
    const s = clusterWeights(Float32Array.from(w), k);
    expect([...s.assignment]).toEqual(assignment);
    const used = [...new Set(assignment.filter((a) => a >= 0))].map((a) => s.centroids[a]);
    used.forEach((c, i) => {
      expect(c).toBeCloseTo(centroids[i], 5);
    });
  });

  it("shareWeights leaves at most 2^bits distinct non-zero values per layer", () => {
    const m = createMlp([50, 20, 10], 1);
    shareWeights(m, [3, 2]);
    const distinct = m.layers.map(
      (l) => new Set([...(l as Dense).weight].filter((v) => v !== 0)).size,
    );
    expect(distinct[0]).toBeLessThanOrEqual(8);
    expect(distinct[1]).toBeLessThanOrEqual(4);
  });
});
