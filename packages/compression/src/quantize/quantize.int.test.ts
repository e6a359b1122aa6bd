import { encodeModel, type ModelProto, opHistogram } from "@edgefleet/onnx";
import { createSession, floatTensor, readHardwareFacts, run } from "@edgefleet/runtime";
import { describe, expect, it } from "vitest";
import { kernelReport } from "../evaluate/run";
import { int8ReduceRange, type QuantizeSpec, quantizeModel } from "./index";
import { seeded, tinyCnn, tinyMlp } from "./test-models";

async function logits(model: ModelProto, x: Float32Array, dims: number[], disableQuantQdq = false) {
  const s = await createSession(encodeModel(model), { threads: 1, disableQuantQdq });
  const out = await run(s, { input: floatTensor(x, dims) });
  await s.release();
  return out.logits.data as Float32Array;
}

/** max |a - b| relative to the largest |a| */
function relErr(a: Float32Array, b: Float32Array): number {
  let err = 0;
  let mag = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(a[i]));
  }
  return err / mag;
}

// Tolerances per technique (relative max error on the logits of small random models).
const CASES: [string, QuantizeSpec, number, string][] = [
  ["fp16 weights", { kind: "fp16", compute: false }, 0.005, "Gemm"],
  ["fp16 compute", { kind: "fp16", compute: true }, 0.01, "Gemm"],
  [
    "int8 weights per-channel",
    { kind: "int8-weights", perChannel: true, symmetric: true },
    0.03,
    "Gemm",
  ],
  [
    "uint8 weights per-tensor asym",
    { kind: "int8-weights", perChannel: false, symmetric: false },
    0.05,
    "Gemm",
  ],
  ["fp8 e4m3 weights", { kind: "fp8-weights", perChannel: true }, 0.12, "Gemm"],
  [
    "int8 static minmax",
    { kind: "int8-static", calibration: "minmax", perChannel: true },
    0.06,
    "QGemm",
  ],
  [
    "int8 static percentile",
    { kind: "int8-static", calibration: "percentile", perChannel: true },
    0.08,
    "QGemm",
  ],
  ["int8 static mse", { kind: "int8-static", calibration: "mse", perChannel: true }, 0.08, "QGemm"],
  ["int8 dynamic", { kind: "int8-dynamic" }, 0.06, "DynamicQuantizeMatMul"],
  ["int4 blockwise", { kind: "int4", blockSize: 32 }, 0.2, "MatMulNBits"],
];

describe("every variant kind runs in ONNX Runtime close to fp32 (MLP)", () => {
  const model = tinyMlp([64, 48, 32, 8]);
  const x = seeded(32 * 64, 2, 7);
  const calibration = [{ input: { data: x, dims: [32, 64] } }];
  const evalX = seeded(16 * 64, 2, 8);

  it.each(CASES)("%s", async (_, spec, tol, kernel) => {
    const ref = await logits(model, evalX, [16, 64]);
    const r = await quantizeModel(model, spec, { calibration });
    const got = await logits(r.model, evalX, [16, 64], r.runtime.disableQuantQdq);
    expect(relErr(ref, got)).toBeLessThan(tol);
    expect(relErr(ref, got)).toBeGreaterThan(0); // it really changed the weights
    const k = await kernelReport(
      encodeModel(r.model),
      { name: "input", sampleDims: [64] },
      r.runtime,
      1,
    );
    expect(Object.keys(k.optimizedOps).some((op) => op.endsWith(kernel))).toBe(true);
    expect(Object.keys(k.kernelTimeUs).length).toBeGreaterThan(0);
  });

  // Decides for this host's CPU: full 8-bit weights with VNNI (or on Arm), 7-bit without.
  it.each(CASES.filter(([, s]) => s.kind === "int8-static" || s.kind === "int8-dynamic"))(
    "%s for this host's own CPU facts",
    async (_, spec, tol) => {
      const host = await readHardwareFacts();
      const ref = await logits(model, evalX, [16, 64]);
      const error = async (target: { arch: string; cpuFlags: string[] }) => {
        const r = await quantizeModel(model, spec, { calibration, target });
        return relErr(ref, await logits(r.model, evalX, [16, 64]));
      };
      expect(await error(host)).toBeLessThan(tol);
      const fullRange = await error({ arch: "arm64", cpuFlags: ["neon"] });
      if (int8ReduceRange(host)) {
        // The cause: full-range int8 weights saturate the int16 pair sums of x86 U8S8 without VNNI.
        expect(fullRange).toBeGreaterThan(2 * (await error(host)));
      } else {
        expect(fullRange).toBeLessThan(tol);
      }
    },
  );

  it("weight-only formats need disable_quant_qdq to fold their DequantizeLinear", async () => {
    const r = await quantizeModel(model, {
      kind: "int8-weights",
      perChannel: true,
      symmetric: true,
    });
    expect(r.runtime.disableQuantQdq).toBe(true);
    const bytes = encodeModel(r.model);
    const folded = await kernelReport(
      bytes,
      { name: "input", sampleDims: [64] },
      { disableQuantQdq: true },
      1,
    );
    expect(folded.optimizedOps.DequantizeLinear).toBeUndefined();
  });
});

describe("conv variants (Conv + BatchNorm + MaxPool + MatMul head)", () => {
  const model = tinyCnn();
  const x = seeded(16 * 64, 2, 3);
  const calibration = [{ input: { data: x, dims: [16, 1, 8, 8] } }];

  it.each(CASES.filter(([, s]) => s.kind !== "int4"))("%s", async (_, spec, tol) => {
    const ref = await logits(model, x, [16, 1, 8, 8]);
    const r = await quantizeModel(model, spec, { calibration });
    const got = await logits(r.model, x, [16, 1, 8, 8], r.runtime.disableQuantQdq);
    expect(relErr(ref, got)).toBeLessThan(tol * 1.5);
  });

  it("static int8 runs QLinearConv with the BatchNorm folded away", async () => {
    const r = await quantizeModel(
      model,
      { kind: "int8-static", calibration: "minmax", perChannel: true },
      { calibration },
    );
    expect(opHistogram(r.model.graph ?? {}).BatchNormalization).toBeUndefined();
    const k = await kernelReport(
      encodeModel(r.model),
      { name: "input", sampleDims: [1, 8, 8] },
      {},
      1,
    );
    expect(Object.keys(k.optimizedOps).some((op) => op.endsWith("QLinearConv"))).toBe(true);
  });
});
