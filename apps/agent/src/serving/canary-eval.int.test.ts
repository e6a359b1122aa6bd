// Canary evaluation over real ONNX Runtime sessions: top-1 against labels in batches, static batch
// axes, and the outcomes that are not scores.
import { type CanarySet, decodeCanarySet, encodeCanarySet } from "@edgefleet/artifact";
import { DataType, GraphBuilder } from "@edgefleet/onnx";
import { afterEach, describe, expect, it } from "vitest";
import { CanaryMismatchError, CanaryRunError, evaluateCanary } from "./canary-eval";
import { type LoadedModel, ortRuntime } from "./runtime";
import { fixedBatchModel, gatherTrapModel, reluModel, sampleInput } from "./test-models";

const runtime = ortRuntime();
const loaded: LoadedModel[] = [];

async function load(bytes: Uint8Array) {
  const real = await runtime.load(bytes, { threads: 1, disableQuantQdq: false });
  loaded.push(real);
  const batches: number[] = [];
  const model: LoadedModel = {
    inputName: real.inputName,
    sampleDims: real.sampleDims,
    outputNames: real.outputNames,
    dynamicBatch: real.dynamicBatch,
    fixedBatch: real.fixedBatch,
    run: (input, batch) => {
      batches.push(batch);
      return real.run(input, batch);
    },
    release: () => real.release(),
  };
  return { model, batches };
}

afterEach(async () => {
  await Promise.all(loaded.splice(0).map((m) => m.release()));
});

/**
 * `samples` inputs of 4 values; through Relu the top-1 is the index of the largest value, and the
 * label is that index except for every `wrongEvery`-th sample: `correct` is known exactly.
 */
function reluCanary(samples: number, wrongEvery: number, dims = [4]) {
  const inputs = sampleInput(samples * 4, 7);
  const labels = new Int32Array(samples);
  let correct = 0;
  for (let s = 0; s < samples; s++) {
    const row = Array.from(inputs.subarray(s * 4, s * 4 + 4));
    const best = row.indexOf(Math.max(...row));
    const wrong = s % wrongEvery === 0;
    labels[s] = wrong ? (best + 1) % 4 : best;
    if (!wrong) correct++;
  }
  // Through the wire format, as a device reads it.
  const set: CanarySet = decodeCanarySet(encodeCanarySet({ sampleDims: dims, inputs, labels }));
  return { set, correct };
}

/** Relu over x [3, 4]: a static batch of 3. */
function batchOf3Model(): Uint8Array {
  const g = new GraphBuilder();
  g.input("x", DataType.FLOAT, [3, 4]);
  g.node("Relu", ["x"], ["y"]);
  g.output("y", DataType.FLOAT, [3, 4]);
  return g.toBytes();
}

describe("evaluateCanary", () => {
  it("scores top-1 against the labels in batches of 32 (the last one partial)", async () => {
    const { model, batches } = await load(reluModel());
    const { set, correct } = reluCanary(70, 5);
    expect(await evaluateCanary(model, set)).toEqual({ samples: 70, correct });
    expect(correct).toBe(56);
    expect(batches).toEqual([32, 32, 6]);
  });

  it.each([
    ["a static batch of 1", fixedBatchModel(), [1, 1, 1, 1, 1, 1, 1]],
    ["a static batch of 3, the last one padded", batchOf3Model(), [3, 3, 3]],
  ])("runs %s", async (_what, bytes, expected) => {
    const { model, batches } = await load(bytes);
    const { set, correct } = reluCanary(7, 3);
    expect(await evaluateCanary(model, set)).toEqual({ samples: 7, correct });
    expect(batches).toEqual(expected);
  });

  it("refuses samples of other dims than the model's input before running anything", async () => {
    const { model, batches } = await load(reluModel());
    const { set } = reluCanary(6, 2, [2, 2]); // as many values per sample, another shape
    await expect(evaluateCanary(model, set)).rejects.toThrow(CanaryMismatchError);
    await expect(evaluateCanary(model, set)).rejects.toThrow(
      "canary samples are [2, 2], the model takes x [4]",
    );
    expect(batches).toEqual([]);
  });

  it("a model failing on the canary inputs is a CanaryRunError naming the samples", async () => {
    const { model } = await load(gatherTrapModel());
    const set: CanarySet = {
      sampleDims: [4],
      samples: 2,
      inputs: new Float32Array(8).fill(7), // out of the trap's table
      labels: new Int32Array(2),
    };
    await expect(evaluateCanary(model, set)).rejects.toThrow(CanaryRunError);
    await expect(evaluateCanary(model, set)).rejects.toThrow(/samples 0\.\.1/);
  });
});
