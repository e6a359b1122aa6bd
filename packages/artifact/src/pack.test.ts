import { crc32 } from "node:zlib";
import { DataType, GraphBuilder } from "@edgefleet/onnx";
import { describe, expect, it } from "vitest";
import { exportOnnx } from "../nn/export-onnx";
import { createMlp } from "../nn/model";
import { createRng } from "../nn/rng";
import { inspectPacked, isPackedModel, packModel, unpackModel } from "./pack";
import { PackedModelError } from "./pack-format";
import { decodeTensor, encodeTensor } from "./tensor-coding";

const rng = createRng(5);
const sparse = (n: number, density: number) =>
  Float32Array.from({ length: n }, () => (rng.next() < density ? rng.normal() : 0));
const shared = (n: number, k: number, density: number) => {
  const book = Float32Array.from({ length: k }, () => rng.normal());
  return Float32Array.from({ length: n }, () => (rng.next() < density ? book[rng.int(k)] : 0));
};
const bitsOf = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

describe("tensor coding round-trips bit-exactly", () => {
  it.each([
    { name: "dense random", values: sparse(1000, 1), encoding: 0 },
    { name: "dense 7 shared values", values: shared(1000, 7, 1), encoding: 1 },
    { name: "sparse random", values: sparse(5000, 0.1), encoding: 2 },
    { name: "sparse 32 shared values", values: shared(5000, 32, 0.05), encoding: 3 },
    { name: "all zero", values: new Float32Array(300), encoding: 3 },
    {
      name: "one non-zero at the end after a long gap",
      values: Float32Array.from({ length: 2000 }, (_, i) => (i === 1999 ? 1.5 : 0)),
      encoding: 3,
    },
    {
      name: "-0, NaN and Infinity",
      values: Float32Array.from([-0, Number.NaN, Infinity, 1, -0, 0, 2, 3]),
      encoding: 1,
    },
  ])("$name", ({ values, encoding }) => {
    const enc = encodeTensor(values);
    expect(enc.encoding).toBe(encoding);
    expect(bitsOf(decodeTensor(enc, "t"))).toEqual(bitsOf(values));
  });
});

function tinyModel(): Uint8Array {
  const model = createMlp([64, 32, 10], 9);
  const w = model.layers[0];
  if (w.kind === "dense") for (let i = 0; i < w.weight.length; i++) if (i % 5) w.weight[i] = 0;
  return exportOnnx(model);
}

describe("packModel / unpackModel", () => {
  it.each(["brotli", "gzip", "none"] as const)("lossless round trip (%s)", (codec) => {
    const onnx = tinyModel();
    const packed = packModel(onnx, { codec });
    expect(isPackedModel(packed)).toBe(true);
    expect(isPackedModel(onnx)).toBe(false);
    expect(unpackModel(packed)).toEqual(onnx);
  });

  it("sparsity makes the shipped form smaller than the model", () => {
    const onnx = tinyModel();
    expect(packModel(onnx).length).toBeLessThan(onnx.length / 3);
  });

  it("lossy clustering keeps at most 2^bits distinct values per tensor", () => {
    const onnx = exportOnnx(createMlp([64, 32, 10], 3));
    const info = inspectPacked(packModel(onnx, { clusterBits: 3, minClusterElements: 1000 }));
    const w0 = info.find((t) => t.name === "layer0.weight")!;
    expect(w0.encoding).toBe("dense-codebook");
    expect(w0.codebookSize).toBeLessThanOrEqual(8);
    // 320 entries: below minClusterElements, so kept exact
    expect(info.find((t) => t.name === "layer1.weight")!.encoding).toBe("dense-f32");
  });

  it("leaves non-float initializers inside the skeleton untouched", () => {
    const g = new GraphBuilder();
    const x = g.input("input", DataType.FLOAT, ["N", 40]);
    const shape = g.initializer("shape", DataType.INT64, [2], BigInt64Array.from([-1n, 40n]));
    const w = g.initializer("w", DataType.FLOAT, [40, 2], sparse(80, 0.2));
    const [r] = g.node("Reshape", [x, shape]);
    g.node("MatMul", [r, w], ["logits"]);
    g.output("logits", DataType.FLOAT, ["N", 2]);
    const onnx = g.toBytes();
    expect(unpackModel(packModel(onnx))).toEqual(onnx);
  });
});

describe("corrupt packed input is refused with a typed error", () => {
  const good = packModel(tinyModel());
  const flip = (at: number) => {
    const b = good.slice();
    b[at] ^= 0x40;
    return b;
  };
  const withHeader = (edit: (v: DataView) => void) => {
    const b = good.slice();
    edit(new DataView(b.buffer));
    return b;
  };
  it.each([
    { name: "empty", bytes: new Uint8Array(0), code: "truncated" },
    { name: "an ONNX model", bytes: tinyModel(), code: "bad-magic" },
    { name: "wrong magic", bytes: flip(0), code: "bad-magic" },
    {
      name: "future version",
      bytes: withHeader((v) => v.setUint8(4, 9)),
      code: "unsupported-version",
    },
    { name: "cut short", bytes: good.subarray(0, good.length - 10), code: "truncated" },
    { name: "header only", bytes: good.subarray(0, 20), code: "truncated" },
    { name: "flipped payload byte", bytes: flip(good.length >> 1), code: "checksum-mismatch" },
    { name: "flipped length byte", bytes: flip(13), code: "checksum-mismatch" },
  ])("$name -> $code", ({ bytes, code }) => {
    let err: unknown;
    try {
      unpackModel(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PackedModelError);
    expect((err as PackedModelError).code).toBe(code);
  });

  it("rejects a payload that passes the checksum but lies about its tensors", () => {
    const b = packModel(tinyModel(), { codec: "none" });
    // Corrupt the first tensor's element count, then re-seal the CRC so only structure checks remain.
    const view = new DataView(b.buffer);
    const skeletonLen = view.getUint32(20, true);
    const nameLen = view.getUint16(20 + 4 + skeletonLen + 4, true);
    const countAt = 20 + 4 + skeletonLen + 4 + 2 + nameLen + 1;
    view.setUint32(countAt, view.getUint32(countAt, true) + 1, true);
    view.setUint32(16, crc32(b.subarray(20), crc32(b.subarray(0, 16))) >>> 0, true);
    expect(() => unpackModel(b)).toThrow(PackedModelError);
  });

  it("refuses a header that claims a huge payload, before inflating anything", () => {
    const b = packModel(tinyModel());
    const view = new DataView(b.buffer);
    view.setUint32(12, 0xffffffff, true);
    view.setUint32(16, crc32(b.subarray(20), crc32(b.subarray(0, 16))) >>> 0, true);
    expect(() => unpackModel(b)).toThrow(/limit/);
  });
});
