import { describe, expect, it } from "vitest";
import { DataType } from "./proto";
import {
  float8E4M3FNToFloat32,
  float16BitsToFloat32,
  float32ToFloat8E4M3FN,
  float32ToFloat16Bits,
  makeTensor,
  packInt4,
  tensorToFloat32,
  unpackInt4,
} from "./tensor";

describe("float16", () => {
  it.each([
    [0, 0x0000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [70000, 0x7c00],
    [2 ** -24, 0x0001],
    [1 / 3, 0x3555],
    [0.1, 0x2e66],
  ])("%f -> %i", (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });

  it("rounds ties to even", () => {
    // 1 + 2^-11 sits halfway between 1 and the next half (1 + 2^-10): ties go to even (1).
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it("round-trips every finite half", () => {
    for (let h = 0; h < 0x7c00; h += 7) {
      expect(float32ToFloat16Bits(float16BitsToFloat32(h))).toBe(h);
    }
  });
});

describe("float8 e4m3fn", () => {
  it.each([
    [0, 0x00],
    [1, 0x38],
    [-1, 0xb8],
    [448, 0x7e],
    [1000, 0x7e],
    [2 ** -9, 0x01],
    [0.0625, 0x18],
    [1.0625, 0x38], // halfway between 1 and 1.125: ties to even
    [1.1, 0x39],
  ])("%f -> %i", (value, bits) => {
    expect(float32ToFloat8E4M3FN(value)).toBe(bits);
  });

  it("round-trips all 254 finite codes", () => {
    for (let b = 0; b < 256; b++) {
      if ((b & 0x7f) === 0x7f) continue;
      const v = float8E4M3FNToFloat32(b);
      const back = float32ToFloat8E4M3FN(v);
      expect(back === b || (v === 0 && (back & 0x7f) === 0)).toBe(true);
    }
  });
});

describe("int4 packing", () => {
  it("puts element 0 in the low nibble", () => {
    expect([...packInt4([1, 2, 3])]).toEqual([0x21, 0x03]);
    expect([...packInt4([-1, -8])]).toEqual([0x8f]);
  });

  it.each([true, false])("round-trips (signed=%s)", (signed) => {
    const vals = signed ? [-8, -1, 0, 7, 3, -4, 5] : [0, 15, 7, 8, 1, 2, 9];
    expect([...unpackInt4(packInt4(vals), vals.length, signed)]).toEqual(vals);
  });
});

describe("makeTensor / tensorToFloat32", () => {
  it.each([
    [DataType.FLOAT, [1.5, -2, 3]],
    [DataType.FLOAT16, [1.5, -2, 3]],
    [DataType.INT8, [-128, 0, 127]],
    [DataType.UINT8, [0, 128, 255]],
    [DataType.INT4, [-8, 0, 7]],
    [DataType.UINT4, [0, 8, 15]],
    [DataType.FLOAT8E4M3FN, [1, -0.5, 448]],
    [DataType.INT64, [5, -1, 784]],
  ])("dtype %i round-trips", (dtype, values) => {
    const t = makeTensor("t", dtype, [3], values);
    expect([...tensorToFloat32(t)]).toEqual(values);
  });

  it("stores int4 in half the bytes", () => {
    expect(makeTensor("t", DataType.INT4, [64], new Array(64).fill(1)).rawData?.length).toBe(32);
  });
});
