import { describe, expect, it } from "vitest";
import { backward, forwardTrace, predict, zeroGrads } from "./forward";
import { crossEntropy } from "./loss";
import { createCnn, createMlp, isWeightLayer, type Sequential } from "./model";
import { createRng } from "./rng";

function lossOf(model: Sequential, x: Float32Array, y: Uint8Array, n: number): number {
  return crossEntropy(predict(model, x, n), y, n, 10).loss;
}

function checkGradients(model: Sequential, width: number) {
  const n = 3;
  const rng = createRng(7);
  const x = Float32Array.from({ length: n * width }, () => rng.next());
  const y = Uint8Array.from([1, 4, 9]);
  const trace = forwardTrace(model, x, n);
  const { grad } = crossEntropy(trace.outputs[trace.outputs.length - 1], y, n, 10);
  const grads = zeroGrads(model);
  backward(model, trace, grad, grads);
  let checked = 0;
  model.layers.forEach((layer, li) => {
    if (!isWeightLayer(layer)) return;
    for (const [param, g] of [
      [layer.weight, grads[li]!.weight],
      [layer.bias, grads[li]!.bias],
    ] as const) {
      for (let k = 0; k < 6; k++) {
        const i = (k * 7919) % param.length;
        const keep = param[i];
        const h = 1e-3;
        param[i] = keep + h;
        const up = lossOf(model, x, y, n);
        param[i] = keep - h;
        const down = lossOf(model, x, y, n);
        param[i] = keep;
        const num = (up - down) / (2 * h);
        expect(Math.abs(g[i] - num)).toBeLessThan(2e-3 + 2e-2 * Math.abs(num));
        checked++;
      }
    }
  });
  expect(checked).toBeGreaterThan(0);
}

describe("backward matches finite differences", () => {
  it("MLP", () => checkGradients(createMlp([20, 8, 6, 10], 3), 20));
  it("CNN (conv, pool, flatten, dense)", () => {
    const cnn = createCnn({ channels: [3], hidden: [8], kernel: 3 }, 5);
    checkGradients(cnn, 784);
  });
});

describe("forward", () => {
  it("dense layer computes x W + b with ReLU", () => {
    const model: Sequential = {
      inputShape: [2],
      layers: [
        {
          kind: "dense",
          inputs: 2,
          outputs: 2,
          weight: Float32Array.from([1, -1, 2, 1]),
          bias: Float32Array.from([0.5, 0]),
          activation: "relu",
        },
      ],
    };
    expect([...predict(model, Float32Array.from([1, 1, 0, 3]), 2)]).toEqual([3.5, 0, 6.5, 3]);
  });
});
