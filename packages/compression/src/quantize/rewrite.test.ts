import { DataType, opHistogram, tensorDims, tensorToFloat32 } from "@edgefleet/onnx";
import { describe, expect, it } from "vitest";
import { quantizeDynamic } from "./dynamic";
import { toFp16Full, toFp16Weights } from "./fp16";
import { quantizeInt4 } from "./int4";
import { foldBatchNorm, fuseMatMulAdd, prepareForQuantization } from "./prepare";
import { quantizeStatic, staticCalibrationTargets } from "./static";
import { tinyCnn, tinyMlp } from "./test-models";
import { quantizeWeightsFp8, quantizeWeightsInt8 } from "./weight-only";

const inits = (m: ReturnType<typeof tinyMlp>) =>
  new Map((m.graph?.initializer ?? []).map((t) => [t.name, t]));

describe("prepareForQuantization", () => {
  it("turns 2-D MatMul + bias Add into Gemm", () => {
    const m = tinyMlp();
    expect(fuseMatMulAdd(m)).toBe(3);
    expect(opHistogram(m.graph ?? {})).toEqual({ Gemm: 3, Relu: 2 });
  });

  it("folds BatchNormalization into the Conv weights and bias", () => {
    const m = tinyCnn();
    expect(foldBatchNorm(m)).toBe(1);
    const conv = m.graph?.node?.find((n) => n.opType === "Conv");
    const w = tensorToFloat32(inits(m).get(conv?.input?.[1]) ?? {});
    const b = tensorToFloat32(inits(m).get(conv?.input?.[2]) ?? {});
    const orig = tinyCnn();
    const w0 = tensorToFloat32(inits(orig).get("conv.weight") ?? {});
    const b0 = tensorToFloat32(inits(orig).get("conv.bias") ?? {});
    const g1 = 0.8 / Math.sqrt(1.1 + 1e-5); // channel 1
    expect(w[9]).toBeCloseTo(w0[9] * g1, 6);
    expect(b[1]).toBeCloseTo((b0[1] + 0.02) * g1 - 0.1, 6);
    expect(opHistogram(m.graph ?? {}).BatchNormalization).toBeUndefined();
  });
});

describe("quantizeStatic", () => {
  const prepared = prepareForQuantization(tinyMlp());
  const targets = staticCalibrationTargets(prepared);
  const ranges = new Map<string, readonly [number, number]>(targets.map((t) => [t, [0, 2]]));
  ranges.set("input", [-1, 1] as const);

  it("calibrates op inputs and post-Relu outputs, never the graph output", () => {
    expect(targets).toContain("input");
    expect(targets).not.toContain("logits");
    expect(targets.length).toBe(3);
  });

  it("writes int8 weights, int32 biases with scale s_x * s_w, one Q/DQ per activation", () => {
    const q = quantizeStatic(prepared, ranges);
    const h = opHistogram(q.graph ?? {});
    expect(h.QuantizeLinear).toBe(3);
    expect(h.DequantizeLinear).toBe(3 + 3 + 3); // activations + weights + biases
    const t = inits(q);
    expect(t.get("layer0.weight_quantized")?.dataType).toBe(DataType.INT8);
    const bq = t.get("layer0.bias_quantized");
    expect(bq?.dataType).toBe(DataType.INT32);
    const sx = tensorToFloat32(t.get("input_scale") ?? {})[0];
    const sw = tensorToFloat32(t.get("layer0.weight_scale") ?? {});
    const sb = tensorToFloat32(t.get("layer0.bias_scale") ?? {});
    expect(sb[3]).toBeCloseTo(sx * sw[3], 9);
    expect(t.has("layer0.weight")).toBe(false);
  });

  it("leaves excluded nodes in float (mixed precision)", () => {
    const gemms = (prepared.graph?.node ?? [])
      .filter((n) => n.opType === "Gemm")
      .map((n) => n.name ?? "");
    const q = quantizeStatic(prepared, ranges, { exclude: [gemms[2]] });
    const last = q.graph?.node?.find((n) => n.name === gemms[2]);
    expect(last?.input?.[1]).toBe("layer2.weight");
    expect(staticCalibrationTargets(prepared, { only: [gemms[0]] }).sort()).toEqual(
      ["input", targets[1]].sort(),
    );
  });

  it("refuses to quantize without a range", () => {
    expect(() => quantizeStatic(prepared, new Map())).toThrow(/no calibrated range/);
  });
});

describe("weight-only, dynamic, int4, fp16 rewrites", () => {
  it.each([
    ["int8 symmetric", () => quantizeWeightsInt8(tinyMlp(), { symmetric: true }), DataType.INT8],
    [
      "uint8 asymmetric",
      () => quantizeWeightsInt8(tinyMlp(), { symmetric: false, perChannel: false }),
      DataType.UINT8,
    ],
    ["fp8 e4m3", () => quantizeWeightsFp8(tinyMlp()), DataType.FLOAT8E4M3FN],
  ])("%s stores weights as the quantized type behind DequantizeLinear", (_, make, dtype) => {
    const m = make();
    const w = inits(m).get("layer1.weight_quantized");
    expect(w?.dataType).toBe(dtype);
    expect(tensorDims(w ?? {})).toEqual([32, 24]);
    expect(opHistogram(m.graph ?? {}).DequantizeLinear).toBe(3);
  });

  it("dynamic uses DynamicQuantizeMatMul for MatMul and ConvInteger for Conv", () => {
    expect(
      opHistogram(quantizeDynamic(tinyMlp()).graph ?? {})["com.microsoft:DynamicQuantizeMatMul"],
    ).toBe(3);
    const h = opHistogram(quantizeDynamic(tinyCnn()).graph ?? {});
    expect(h.ConvInteger).toBe(1);
    expect(h.DynamicQuantizeLinear).toBe(1);
  });

  it("int4 writes MatMulNBits with K, N and packed blocks", () => {
    const m = quantizeInt4(tinyMlp([40, 8]));
    const node = m.graph?.node?.find((n) => n.opType === "MatMulNBits");
    expect(node?.domain).toBe("com.microsoft");
    expect(tensorDims(inits(m).get(node?.input?.[1]) ?? {})).toEqual([8, 2, 16]);
  });

  it("fp16 weights keep fp32 I/O and cast each weight back", () => {
    const m = toFp16Weights(tinyMlp());
    expect(inits(m).get("layer0.weight_fp16")?.dataType).toBe(DataType.FLOAT16);
    // 3 weights + 2 biases; the 8-element last bias is too small to be worth converting
    expect(opHistogram(m.graph ?? {}).Cast).toBe(5);
  });

  it("fp16 compute casts the input in and the output out", () => {
    const m = toFp16Full(tinyMlp());
    const g = m.graph ?? {};
    expect(g.node?.[0].opType).toBe("Cast");
    expect(g.node?.[g.node.length - 1].output).toEqual(["logits"]);
    expect(inits(m).get("layer0.weight")?.dataType).toBe(DataType.FLOAT16);
  });
});
