import { DataType, GraphBuilder, type ModelProto } from "@edgefleet/onnx";

/** Seeded pseudo-random values in [-scale/2, scale/2) for test weights and inputs. */
export function seeded(n: number, scale: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 4294967296 - 0.5) * scale;
  });
}

/** MatMul + Add (+ Relu) MLP, the layout the trainer exports. */
export function tinyMlp(widths = [16, 32, 24, 8], seed = 1): ModelProto {
  const b = new GraphBuilder();
  let h = b.input("input", DataType.FLOAT, ["N", widths[0]]);
  for (let i = 0; i + 1 < widths.length; i++) {
    const w = b.initializer(
      `layer${i}.weight`,
      DataType.FLOAT,
      [widths[i], widths[i + 1]],
      seeded(widths[i] * widths[i + 1], 2 / Math.sqrt(widths[i]), seed + i),
    );
    const bias = b.initializer(
      `layer${i}.bias`,
      DataType.FLOAT,
      [widths[i + 1]],
      seeded(widths[i + 1], 0.2, seed + 50 + i),
    );
    [h] = b.node("MatMul", [h, w], 1, { name: `layer${i}.matmul` });
    const last = i + 2 === widths.length;
    [h] = b.node("Add", [h, bias], last ? ["logits"] : 1, { name: `layer${i}.add` });
    if (!last) [h] = b.node("Relu", [h], 1, { name: `layer${i}.relu` });
  }
  b.output("logits", DataType.FLOAT, ["N", widths[widths.length - 1]]);
  return b.build();
}

/** Conv + BatchNormalization + Relu + MaxPool + Flatten + MatMul head, as exporters write it. */
export function tinyCnn(seed = 1): ModelProto {
  const b = new GraphBuilder();
  b.input("input", DataType.FLOAT, ["N", 1, 8, 8]);
  b.initializer("conv.weight", DataType.FLOAT, [4, 1, 3, 3], seeded(36, 1, seed));
  b.initializer("conv.bias", DataType.FLOAT, [4], seeded(4, 0.2, seed + 1));
  b.initializer("bn.scale", DataType.FLOAT, [4], [1.2, 0.8, 1, 0.5]);
  b.initializer("bn.bias", DataType.FLOAT, [4], [0.1, -0.1, 0, 0.2]);
  b.initializer("bn.mean", DataType.FLOAT, [4], [0.05, -0.02, 0.1, 0]);
  b.initializer("bn.var", DataType.FLOAT, [4], [0.9, 1.1, 0.5, 2]);
  b.initializer("fc.weight", DataType.FLOAT, [36, 5], seeded(180, 0.6, seed + 2));
  b.initializer("fc.bias", DataType.FLOAT, [5], seeded(5, 0.2, seed + 3));
  const [c] = b.node("Conv", ["input", "conv.weight", "conv.bias"], ["c"], {
    attrs: { kernel_shape: [3, 3], pads: [0, 0, 0, 0] },
  });
  const [n] = b.node("BatchNormalization", [c, "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["n"], {
    attrs: { epsilon: { float: 1e-5 } },
  });
  const [r] = b.node("Relu", [n], ["r"]);
  const [p] = b.node("MaxPool", [r], ["p"], { attrs: { kernel_shape: [2, 2], strides: [2, 2] } });
  const [f] = b.node("Flatten", [p], ["f"], { attrs: { axis: 1 } });
  const [m] = b.node("MatMul", [f, "fc.weight"], ["m"]);
  b.node("Add", [m, "fc.bias"], ["logits"]);
  b.output("logits", DataType.FLOAT, ["N", 5]);
  return b.build();
}
