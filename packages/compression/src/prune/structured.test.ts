import { describe, expect, it } from "vitest";
import { predict } from "../nn/forward";
import { createCnn, createMlp, type Dense, macsPerExample, type Sequential } from "../nn/model";
import { createRng } from "../nn/rng";
import { pruneUnits, removeUnits, StructuredPruneError } from "./structured";

function inputs(n: number, width: number): Float32Array {
  const rng = createRng(11);
  return Float32Array.from({ length: n * width }, () => rng.next());
}

/** Zeroes the incoming weights of `units` of a dense layer (bias kept: it must be folded). */
function zeroDenseUnits(layer: Dense, units: number[]): void {
  for (let i = 0; i < layer.inputs; i++)
    for (const u of units) layer.weight[i * layer.outputs + u] = 0;
  for (const u of units) layer.bias[u] = u % 2 ? 0.7 : -0.3;
}

describe("removeUnits preserves outputs exactly when removed units are dead", () => {
  it.each([
    { name: "first hidden layer", layer: 0, dead: [0, 3, 5] },
    { name: "second hidden layer", layer: 1, dead: [1, 2, 4, 7] },
  ])("MLP: $name", ({ layer, dead }) => {
    const model = createMlp([12, 9, 8, 10], 2);
    zeroDenseUnits(model.layers[layer] as Dense, dead);
    const count = (model.layers[layer] as Dense).outputs;
    const keep: Array<number[] | undefined> = [];
    keep[layer] = [...Array(count).keys()].filter((u) => !dead.includes(u));
    const small = removeUnits(model, keep);
    expect((small.layers[layer] as Dense).outputs).toBe(count - dead.length);
    const x = inputs(5, 12);
    const before = predict(model, x, 5);
    const after = predict(small, x, 5);
    after.forEach((v, i) => {
      expect(v).toBeCloseTo(before[i], 5);
    });
  });

  it("CNN: channel removal through pool + flatten into dense", () => {
    const model: Sequential = createCnn({ channels: [4], hidden: [], kernel: 3 }, 3);
    const conv = model.layers[0];
    if (conv.kind !== "conv2d") throw new Error("expected conv");
    conv.weight.fill(0, 1 * 9, 2 * 9); // channel 1 dead, bias 0.4 -> constant relu(0.4)
    conv.bias[1] = 0.4;
    const small = removeUnits(model, [[0, 2, 3]]);
    const x = inputs(2, 784);
    const before = predict(model, x, 2);
    const after = predict(small, x, 2);
    after.forEach((v, i) => {
      expect(v).toBeCloseTo(before[i], 4);
    });
    expect(macsPerExample(small)).toBeLessThan(macsPerExample(model));
  });

  it("CNN: channel removal into the next conv (dead channel, zero bias)", () => {
    const model = createCnn({ channels: [3, 4], hidden: [], kernel: 3 }, 6);
    const conv = model.layers[0];
    if (conv.kind !== "conv2d") throw new Error("expected conv");
    conv.weight.fill(0, 2 * 9, 3 * 9);
    conv.bias[2] = -0.5; // relu(-0.5) = 0: the channel is all zeros
    const small = removeUnits(model, [[0, 1]]);
    const next = small.layers[2];
    expect(next.kind === "conv2d" && next.inChannels).toBe(2);
    const x = inputs(2, 784);
    const before = predict(model, x, 2);
    const after = predict(small, x, 2);
    after.forEach((v, i) => {
      expect(v).toBeCloseTo(before[i], 4);
    });
  });

  it("removing live units changes outputs (the test can fail)", () => {
    const model = createMlp([6, 5, 10], 4);
    const small = removeUnits(model, [[0, 1]]);
    const x = inputs(1, 6);
    expect([...predict(small, x, 1)]).not.toEqual([...predict(model, x, 1)]);
  });

  it.each([
    { keep: [undefined, undefined, [0]], why: "output layer" },
    { keep: [[99]], why: "unit out of range" },
    { keep: [[]], why: "nothing kept" },
  ])("refuses $why", ({ keep }) => {
    const model = createMlp([6, 5, 10], 4);
    model.layers.splice(1, 0, { kind: "relu" });
    expect(() => removeUnits(model, keep as Array<number[] | undefined>)).toThrow(
      StructuredPruneError,
    );
  });
});

describe("pruneUnits", () => {
  it("thins every conv and hidden dense layer of a CNN", () => {
    const small = pruneUnits(createCnn({ channels: [8, 16], hidden: [32] }, 1), {
      keepFraction: 0.5,
    });
    const widths = small.layers.flatMap((l) =>
      l.kind === "conv2d"
        ? [[l.inChannels, l.outChannels]]
        : l.kind === "dense"
          ? [[l.inputs, l.outputs]]
          : [],
    );
    expect(widths).toEqual([
      [1, 4],
      [4, 8],
      [8 * 49, 16],
      [16, 10],
    ]);
  });

  it("keeps the requested fraction of each hidden layer and leaves the output alone", () => {
    const small = pruneUnits(createMlp([784, 300, 100, 10], 1), { keepFraction: 0.5 });
    expect(small.layers.map((l) => (l.kind === "dense" ? [l.inputs, l.outputs] : []))).toEqual([
      [784, 150],
      [150, 50],
      [50, 10],
    ]);
  });
});
