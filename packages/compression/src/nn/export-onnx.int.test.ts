import { createSession, runBatch } from "@edgefleet/runtime";
import { describe, expect, it } from "vitest";
import { applyMasks, magnitudeMasks } from "../prune/magnitude";
import { packModel, unpackModel } from "../prune/pack";
import { pruneUnits } from "../prune/structured";
import { exportOnnx, ONNX_INPUT, ONNX_OUTPUT } from "./export-onnx";
import { predict } from "./forward";
import { createCnn, createMlp, type Sequential } from "./model";
import { createRng } from "./rng";

const n = 4;
const rng = createRng(3);
const x = Float32Array.from({ length: n * 784 }, () => (rng.next() < 0.3 ? rng.next() : 0));

async function ortLogits(onnx: Uint8Array, model: Sequential): Promise<Float32Array> {
  const session = await createSession(onnx, { threads: 1 });
  const out = await runBatch(session, ONNX_INPUT, x, [n, ...model.inputShape]);
  await session.release();
  expect(out[ONNX_OUTPUT].dims).toEqual([n, 10]);
  return out[ONNX_OUTPUT].data as Float32Array;
}

function expectClose(a: Float32Array, b: Float32Array) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4 * (1 + Math.abs(b[i])));
}

describe("exported models run in ONNX Runtime and match the TS forward pass", () => {
  it.each([
    { name: "LeNet-300-100", model: () => createMlp([784, 300, 100, 10], 1) },
    { name: "small CNN", model: () => createCnn({ channels: [4, 8], hidden: [16] }, 2) },
  ])("$name", async ({ model }) => {
    const m = model();
    expectClose(await ortLogits(exportOnnx(m), m), predict(m, x, n));
  });

  it("a pruned, packed and unpacked model gives the same logits as before packing", async () => {
    const m = createMlp([784, 64, 10], 4);
    applyMasks(m, magnitudeMasks(m, { sparsity: 0.9 }));
    const onnx = exportOnnx(m);
    const unpacked = unpackModel(packModel(onnx));
    expect(await ortLogits(unpacked, m)).toEqual(await ortLogits(onnx, m));
  });

  it("a structurally pruned model is smaller and runs", async () => {
    const small = pruneUnits(createMlp([784, 300, 100, 10], 1), { keepFraction: 0.25 });
    const onnx = exportOnnx(small);
    expect(onnx.length).toBeLessThan(exportOnnx(createMlp([784, 300, 100, 10], 1)).length / 3);
    expectClose(await ortLogits(onnx, small), predict(small, x, n));
  });
});
