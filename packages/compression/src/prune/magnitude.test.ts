import { describe, expect, it } from "vitest";
import { createMlp, type Dense, type Sequential } from "../nn/model";
import { createRng } from "../nn/rng";
import {
  applyMasks,
  iterativePrune,
  keepLargest,
  magnitudeMasks,
  PruneOptionsError,
  sparsityOf,
} from "./magnitude";

function denseOf(weights: number[], inputs: number, outputs: number): Dense {
  return {
    kind: "dense",
    inputs,
    outputs,
    weight: Float32Array.from(weights),
    bias: new Float32Array(outputs),
    activation: "relu",
  };
}

// Layer A holds small weights, layer B mostly large ones: global pruning takes from A first,
// except B's 0.05, which layerwise pruning would keep only if B's own budget allowed.
const model = (): Sequential => ({
  inputShape: [2],
  layers: [
    denseOf([0.1, -0.2, 0.3, -0.4], 2, 2),
    { kind: "relu" },
    denseOf([5, -1, 0.05, 2], 2, 2),
  ],
});

describe("keepLargest", () => {
  it.each([
    { w: [3, -1, 2, 0.5], drop: 2, mask: [1, 0, 1, 0] },
    { w: [3, -1, 2, 0.5], drop: 0, mask: [1, 1, 1, 1] },
    { w: [3, -1, 2, 0.5], drop: 4, mask: [0, 0, 0, 0] },
    // ties broken by position: the earlier of equal magnitudes goes first
    { w: [1, -1, 1, 2], drop: 2, mask: [0, 0, 1, 1] },
  ])("$w drop $drop", ({ w, drop, mask }) => {
    expect([...keepLargest(Float32Array.from(w), drop)]).toEqual(mask);
  });
});

describe("magnitudeMasks", () => {
  it.each([
    { scope: "layerwise" as const, sparsity: 0.5, a: [0, 0, 1, 1], b: [1, 0, 0, 1] },
    { scope: "global" as const, sparsity: 0.5, a: [0, 0, 0, 1], b: [1, 1, 0, 1] },
    { scope: "global" as const, sparsity: 0.625, a: [0, 0, 0, 0], b: [1, 1, 0, 1] },
    { scope: "layerwise" as const, sparsity: [0.25, 0.75], a: [0, 1, 1, 1], b: [1, 0, 0, 0] },
    { scope: "layerwise" as const, sparsity: 0, a: [1, 1, 1, 1], b: [1, 1, 1, 1] },
  ])("$scope $sparsity", ({ scope, sparsity, a, b }) => {
    const masks = magnitudeMasks(model(), { scope, sparsity });
    expect([...masks[0]!]).toEqual(a);
    expect(masks[1]).toBeUndefined();
    expect([...masks[2]!]).toEqual(b);
  });

  it.each([
    { scope: "global" as const, sparsity: [0.5, 0.5] },
    { scope: "layerwise" as const, sparsity: [0.5] },
    { scope: "layerwise" as const, sparsity: 1.5 },
  ])("refuses $scope $sparsity", ({ scope, sparsity }) => {
    expect(() => magnitudeMasks(model(), { scope, sparsity })).toThrow(PruneOptionsError);
  });

  it("applyMasks zeroes exactly the pruned weights and sparsityOf counts them", () => {
    const m = model();
    applyMasks(m, magnitudeMasks(m, { scope: "layerwise", sparsity: 0.5 }));
    expect([...(m.layers[0] as Dense).weight]).toEqual([0, 0, 0.3, -0.4].map(Math.fround));
    const s = sparsityOf(m);
    expect(s.overall).toBe(0.5);
    expect(s.nonZero).toBe(4);
    expect(s.layers).toEqual([0.5, undefined, 0.5]);
  });
});

describe("iterativePrune", () => {
  it("reaches each scheduled sparsity and keeps it through fine-tuning", () => {
    const rng = createRng(2);
    const n = 64;
    const data = {
      x: Float32Array.from({ length: n * 12 }, () => rng.next()),
      y: Uint8Array.from({ length: n }, () => rng.int(10)),
      n,
    };
    const m = createMlp([12, 8, 10], 1);
    const seen: number[] = [];
    iterativePrune(m, data, {
      schedule: [0.5, 0.75],
      fineTune: { optimizer: "sgd", lr: 0.05, epochs: 1, batchSize: 16, seed: 3 },
      onStep: () => seen.push(sparsityOf(m).overall),
    });
    expect(seen).toEqual([0.5, 0.75]);
  });
});
