import { crc32 } from "node:zlib";
import { DataType, GraphBuilder } from "@edgefleet/onnx";
import { describe, expect, it } from "vitest";
import { inspectPacked, isPackedModel, packModel, unpackModel } from "./pack";
import { PackedModelError } from "./pack-format";
import { mlpOnnx, testRng } from "./test-models";

const rng = testRng(7);
const sparse = (n: number, density: number) =>
  Float32Array.from({ length: n }, () => (rng.next() < density ? rng.normal() : 0));

/** 80 % of the first layer's weights are zero, like a magnitude-pruned model. */
const tinyModel = () => mlpOnnx([64, 32, 10], 9, 0.2);

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

  it("says what it coded, tensor by tensor; tensors under 16 elements stay in the skeleton", () => {
    const info = inspectPacked(packModel(mlpOnnx([64, 32, 10], 3, 0.2)));
    expect(info.map((t) => [t.name, t.encoding, t.elements])).toEqual([
      ["layer0.weight", "sparse-f32", 2048],
      // 32 values are at most 256 distinct ones: a codebook is exact and smaller.
      ["layer0.bias", "dense-codebook", 32],
      ["layer1.weight", "dense-f32", 320],
      // layer1.bias (10 elements) is not listed: it stays in the skeleton.
    ]);
    expect(info[0].nonZero).toBeLessThan(2048 * 0.3);
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

  it("refuses an unknown codec by name", () => {
    // @ts-expect-error: a caller outside TypeScript (a recipe file) can pass anything
    expect(() => packModel(tinyModel(), { codec: "zstd" })).toThrow(/unknown codec "zstd"/);
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
