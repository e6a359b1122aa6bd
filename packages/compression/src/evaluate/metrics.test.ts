import { describe, expect, it } from "vitest";
import { quantizeInt4 } from "../quantize/int4";
import { tinyMlp } from "../quantize/test-models";
import { quantizeWeightsInt8 } from "../quantize/weight-only";
import {
  accuracyOfLogits,
  countParameters,
  fidelity,
  flopsByOp,
  outputAgreement,
  sha256Hex,
} from "./metrics";

describe("fidelity", () => {
  it.each([
    ["identical", [1, 2, 3, 0, 0, 5], [1, 2, 3, 0, 0, 5], 1, 0],
    ["one row flips", [1, 2, 3, 0, 0, 5], [1, 2, 3, 5, 0, 0], 0.5, undefined],
    ["shifted logits agree exactly", [1, 2, 3, 0, 0, 5], [11, 12, 13, 7, 7, 12], 1, 0],
  ])("%s", (_, base, variant, agree, kl) => {
    const f = fidelity(Float32Array.from(base), Float32Array.from(variant), 2, 3);
    expect(f.top1Agreement).toBe(agree);
    if (kl !== undefined) expect(f.meanKl).toBeCloseTo(kl, 6);
    else expect(f.meanKl).toBeGreaterThan(1);
  });

  it("takes probabilities as they are when told", () => {
    const p = Float32Array.from([0.5, 0.5]);
    const q = Float32Array.from([0.25, 0.75]);
    const expected = 0.5 * Math.log(0.5 / 0.25) + 0.5 * Math.log(0.5 / 0.75);
    expect(fidelity(p, q, 1, 2, false).meanKl).toBeCloseTo(expected, 6);
  });

  it("accuracy and output agreement", () => {
    expect(accuracyOfLogits(Float32Array.from([0, 1, 1, 0]), Uint8Array.from([1, 1]), 2, 2)).toBe(
      0.5,
    );
    const a = outputAgreement(Float32Array.from([1, 0]), Float32Array.from([1, 0]));
    expect(a).toEqual({ cosine: 1, mse: 0, maxAbsDiff: 0 });
  });
});

describe("parameters and FLOPs", () => {
  const mlp = tinyMlp([16, 32, 8]); // 16*32 + 32 + 32*8 + 8 = 808
  it.each([
    ["fp32", mlp],
    ["int8 weight-only (scales not counted)", quantizeWeightsInt8(mlp)],
    ["int4 (packed blocks count K*N)", quantizeInt4(mlp)],
  ])("%s has 808 parameters", (_, m) => {
    expect(countParameters(m.graph ?? {})).toBe(808);
  });

  it("counts 2 FLOPs per multiply-add and 1 per element elsewhere", () => {
    const shapes = new Map<string, number[]>();
    for (const n of mlp.graph?.node ?? []) {
      const width = n.name?.startsWith("layer0") ? 32 : 8;
      for (const o of n.output ?? []) shapes.set(o, [1, width]);
    }
    shapes.set("input", [1, 16]);
    const f = flopsByOp(mlp.graph ?? {}, shapes);
    expect(f.MatMul).toBe(2 * 16 * 32 + 2 * 32 * 8);
    expect(f.Add).toBe(32 + 8);
    expect(f.Relu).toBe(32);
  });

  it("sha256 of bytes", () => {
    expect(sha256Hex(new TextEncoder().encode("abc"))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});
