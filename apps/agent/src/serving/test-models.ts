// Small real ONNX models for the serving tests and benchmarks (built in code, run by the real
// ONNX Runtime). Weights are random: these measure and check plumbing, not accuracy.
import { createMlp, type Dense, exportOnnx, type Sequential } from "@edgefleet/compression";
import { DataType, GraphBuilder } from "@edgefleet/onnx";

/** An MLP from @edgefleet/compression: input `input` [N, widths[0]], output `logits`. */
export function mlpModel(widths: number[], seed: number): Uint8Array {
  return exportOnnx(createMlp(widths, seed));
}

/**
 * `model` with its output classes rotated by `shift`: class k's logit becomes class
 * (k + shift) mod K's, so its top-1 is always another class than the original's (0 < shift < K).
 * A variant that disagrees with `model` on every input, whatever the input.
 */
export function rotateClasses(model: Sequential, shift: number): Sequential {
  const last = model.layers.at(-1);
  if (last?.kind !== "dense") throw new Error("the last layer must be dense");
  const k = last.outputs;
  const weight = new Float32Array(last.weight.length);
  const bias = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    const to = (c + shift) % k;
    bias[to] = last.bias[c];
    for (let i = 0; i < last.inputs; i++) weight[i * k + to] = last.weight[i * k + c];
  }
  const rotated: Dense = { ...last, weight, bias };
  return { ...model, layers: [...model.layers.slice(0, -1), rotated] };
}

/** The MNIST-sized MLP of the benchmarks: 784-300-100-10 fp32. */
export function mnistMlp(seed = 1): Uint8Array {
  return mlpModel([784, 300, 100, 10], seed);
}

/**
 * x [N, 4] -> y [N, 4] = table[int(x)], table = [10, 20, 30]: runs on zeros (warm-up passes), and
 * ONNX Runtime fails the run for any value outside -3..2 (Gather index out of bounds), like a
 * variant that crashes on some inputs.
 */
export function gatherTrapModel(): Uint8Array {
  const g = new GraphBuilder();
  g.input("x", DataType.FLOAT, ["N", 4]);
  const table = g.initializer("table", DataType.FLOAT, [3], [10, 20, 30]);
  const [idx] = g.node("Cast", ["x"], 1, { attrs: { to: DataType.INT64 } });
  g.node("Gather", [table, idx], ["y"], { attrs: { axis: 0 } });
  g.output("y", DataType.FLOAT, ["N", 4]);
  return g.toBytes();
}

/** Relu over x [N, 4]: the trap model's signature, and it runs on any value. */
export function reluModel(): Uint8Array {
  const g = new GraphBuilder();
  g.input("x", DataType.FLOAT, ["N", 4]);
  g.node("Relu", ["x"], ["y"]);
  g.output("y", DataType.FLOAT, ["N", 4]);
  return g.toBytes();
}

/** x [N, 4] reshaped to [-1, 3]: loads, and every run with N not a multiple of 3 fails. */
export function reshapeTrapModel(): Uint8Array {
  const g = new GraphBuilder();
  g.input("x", DataType.FLOAT, ["N", 4]);
  const shape = g.initializer("shape", DataType.INT64, [2], [-1, 3]);
  g.node("Reshape", ["x", shape], ["y"]);
  g.output("y", DataType.FLOAT, ["M", 3]);
  return g.toBytes();
}

/** Relu over x [1, 4]: a static batch axis. */
export function fixedBatchModel(): Uint8Array {
  const g = new GraphBuilder();
  g.input("x", DataType.FLOAT, [1, 4]);
  g.node("Relu", ["x"], ["y"]);
  g.output("y", DataType.FLOAT, [1, 4]);
  return g.toBytes();
}

/** ids int64 [N, 4] -> float: not a float32 input. */
export function int64InputModel(): Uint8Array {
  const g = new GraphBuilder();
  g.input("ids", DataType.INT64, ["N", 4]);
  g.node("Cast", ["ids"], ["y"], { attrs: { to: DataType.FLOAT } });
  g.output("y", DataType.FLOAT, ["N", 4]);
  return g.toBytes();
}

/** a + b: two inputs. */
export function twoInputModel(): Uint8Array {
  const g = new GraphBuilder();
  g.input("a", DataType.FLOAT, ["N", 4]);
  g.input("b", DataType.FLOAT, ["N", 4]);
  g.node("Add", ["a", "b"], ["y"]);
  g.output("y", DataType.FLOAT, ["N", 4]);
  return g.toBytes();
}

/** Deterministic pseudo-random inputs in [0, 1). */
export function sampleInput(length: number, seed = 1): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}
