import { describe, expect, it } from "vitest";
import type { Split } from "../data/mnist";
import { accuracyOf } from "../nn/evaluate";
import { createCnn, createMlp, type Dense, type Sequential } from "../nn/model";
import { createRng } from "../nn/rng";
import { clusterWeights } from "../prune/cluster";
import { magnitudeMasks } from "../prune/magnitude";
import { scatterShared } from "./optimizer";
import { type TrainOptions, TrainOptionsError, trainClassifier } from "./trainer";

/** A learnable toy task: the class is the index of the brightest of 10 pixel blocks. */
function toyData(n: number, width: number, seed: number): Split {
  const rng = createRng(seed);
  const x = new Float32Array(n * width);
  const y = new Uint8Array(n);
  const block = Math.floor(width / 10);
  for (let i = 0; i < n; i++) {
    const c = rng.int(10);
    y[i] = c;
    for (let j = 0; j < width; j++) x[i * width + j] = rng.next() * 0.3;
    for (let j = 0; j < block; j++) x[i * width + c * block + j] += 0.7;
  }
  return { x, y, n };
}

const data = toyData(256, 40, 1);
const weightsOf = (m: Sequential) =>
  m.layers.flatMap((l) => (l.kind === "dense" ? [...l.weight, ...l.bias] : []));
const run = (opts: Partial<TrainOptions> = {}) => {
  const m = createMlp([40, 16, 10], 3);
  trainClassifier(m, data, {
    optimizer: "adam",
    lr: 0.01,
    epochs: 2,
    batchSize: 32,
    seed: 7,
    ...opts,
  });
  return m;
};

describe("trainClassifier", () => {
  it.each([
    { optimizer: "adam" as const, lr: 0.01 },
    { optimizer: "sgd" as const, lr: 0.05 },
  ])("learns the toy task with $optimizer", (o) => {
    const m = run({ ...o, epochs: 5 });
    expect(accuracyOf(m, toyData(200, 40, 2))).toBeGreaterThan(0.9);
  });

  it.each([
    { name: "plain", opts: {} },
    {
      name: "dropout + cosine + weight decay",
      opts: { dropout: 0.3, lrSchedule: "cosine" as const, weightDecay: 1e-3 },
    },
  ])("is bit-identical for the same seed ($name)", ({ opts }) => {
    expect(weightsOf(run(opts))).toEqual(weightsOf(run(opts)));
  });

  it("differs for another seed", () => {
    expect(weightsOf(run({ seed: 8 }))).not.toEqual(weightsOf(run()));
  });

  it("is deterministic with shift augmentation on a CNN", () => {
    const imgs = toyData(24, 784, 3);
    const train = () => {
      const m = createCnn({ channels: [2], hidden: [], kernel: 3 }, 1);
      trainClassifier(m, imgs, {
        optimizer: "sgd",
        lr: 0.01,
        epochs: 1,
        batchSize: 8,
        seed: 2,
        augment: { shift: 2 },
      });
      return m.layers.flatMap((l) => (l.kind === "conv2d" ? [...l.weight] : []));
    };
    expect(train()).toEqual(train());
  });

  it("keeps masked weights at exactly zero while the rest moves", () => {
    const m = createMlp([40, 16, 10], 3);
    const masks = magnitudeMasks(m, { sparsity: 0.8 });
    const before = (m.layers[0] as Dense).weight.slice();
    trainClassifier(m, data, {
      optimizer: "adam",
      lr: 0.01,
      epochs: 1,
      batchSize: 32,
      seed: 1,
      masks,
    });
    const w = (m.layers[0] as Dense).weight;
    let moved = 0;
    w.forEach((v, i) => {
      if (!masks[0]![i]) expect(v).toBe(0);
      else if (v !== before[i]) moved++;
    });
    expect(moved).toBeGreaterThan(0);
  });

  it("weight sharing trains centroids: at most k distinct non-zero values remain", () => {
    const m = createMlp([40, 16, 10], 3);
    const layer = m.layers[0] as Dense;
    layer.weight.forEach((_, i) => {
      if (i % 3 === 0) layer.weight[i] = 0;
    });
    const sharing = clusterWeights(layer.weight, 4);
    scatterShared(sharing, layer.weight);
    const centroidsBefore = sharing.centroids.slice();
    trainClassifier(m, data, {
      optimizer: "sgd",
      lr: 0.01,
      epochs: 1,
      batchSize: 32,
      seed: 1,
      sharing: [sharing],
    });
    const distinct = new Set([...layer.weight].filter((v) => v !== 0));
    expect(distinct.size).toBeLessThanOrEqual(4);
    expect([...sharing.centroids]).not.toEqual([...centroidsBefore]);
    layer.weight.forEach((v, i) => {
      if (i % 3 === 0) expect(v).toBe(0);
    });
  });

  it.each([
    { name: "wrong width", d: toyData(8, 30, 1), opts: {} },
    { name: "zero batch", d: data, opts: { batchSize: 0 } },
    {
      name: "logits of the wrong size",
      d: data,
      opts: { distill: { teacher: new Float32Array(3), temperature: 2, alpha: 0.5 } },
    },
  ])("refuses $name", ({ d, opts }) => {
    const m = createMlp([40, 16, 10], 3);
    expect(() =>
      trainClassifier(m, d, {
        optimizer: "sgd",
        lr: 0.1,
        epochs: 1,
        batchSize: 8,
        seed: 1,
        ...opts,
      }),
    ).toThrow(TrainOptionsError);
  });
});
