import { readFileSync } from "node:fs";
import { DataType, decodeModel, encodeModel, GraphBuilder, opHistogram } from "@edgefleet/onnx";
import { createSession, floatTensor, measureLatency } from "@edgefleet/runtime";
import { calibrate } from "../src/quantize/calibrate";
import { prepareForQuantization } from "../src/quantize/prepare";
import { quantizeStatic, staticCalibrationTargets } from "../src/quantize/static";

function rand(n: number, s: number, seed = 1) {
  let x = seed;
  return Float32Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return (x / 2147483648 - 0.5) * s;
  });
}
const widths = [784, 1024, 1024, 10];
const b = new GraphBuilder();
let h = b.input("input", DataType.FLOAT, ["N", 784]);
for (let i = 0; i < 3; i++) {
  const W = b.initializer(
    `W${i}`,
    DataType.FLOAT,
    [widths[i], widths[i + 1]],
    rand(widths[i] * widths[i + 1], 0.1, i + 1),
  );
  const B = b.initializer(
    `B${i}`,
    DataType.FLOAT,
    [widths[i + 1]],
    rand(widths[i + 1], 0.1, i + 7),
  );
  [h] = b.node("MatMul", [h, W]);
  [h] = b.node("Add", [h, B], i === 2 ? ["logits"] : 1);
  if (i < 2) [h] = b.node("Relu", [h]);
}
b.output("logits", DataType.FLOAT, ["N", 10]);
const fp32 = b.build();
const prep = prepareForQuantization(fp32);
const targets = staticCalibrationTargets(prep, { quantizeOutputs: process.argv[2] !== "noout" });
const x = rand(64 * 784, 1, 3).map(Math.abs);
const ranges = await calibrate(prep, targets, [{ input: { data: x, dims: [64, 784] } }]);
const q = quantizeStatic(prep, ranges, { quantizeOutputs: process.argv[2] !== "noout" });
for (const [name, m] of [
  ["fp32", fp32],
  ["int8", q],
] as const) {
  const bytes = encodeModel(m);
  const s = await createSession(bytes, {
    threads: 1,
    optimizedModelFilePath: `/tmp/opt-${name}.onnx`,
  });
  const lat = await measureLatency(
    s,
    { input: floatTensor(x, [64, 784]) },
    { warmup: 10, iterations: 50 },
  );
  const opt = decodeModel(readFileSync(`/tmp/opt-${name}.onnx`));
  console.log(name, bytes.length, lat, JSON.stringify(opHistogram(opt.graph!)));
}
