import { describe, expect, it } from "vitest";
import {
  chooseQParams,
  dequantizeBlockwiseUint4,
  dequantizeTensor,
  dequantizeValue,
  INT8,
  quantizeBlockwiseUint4,
  quantizeTensor,
  quantizeValue,
  roundHalfEven,
  UINT4,
  UINT8,
} from "./qmath";

describe("chooseQParams", () => {
  it.each([
    // min, max, range, symmetric -> scale, zero point
    [-1, 1, INT8, true, 1 / 127, 0],
    [-2, 1, INT8, true, 2 / 127, 0],
    [0, 2.55, UINT8, false, 0.01, 0],
    [-1.28, 1.27, UINT8, false, 0.01, 128],
    [1, 2, UINT8, false, 2 / 255, 0], // range widened to include 0
    [-3, -1, UINT8, false, 3 / 255, 255],
    [-1, 1, UINT8, true, 1 / 127, 128],
    [0, 0, INT8, true, 1, 0],
    [0, 15, UINT4, false, 1, 0],
  ])("[%f, %f] -> scale %f zp %i", (min, max, range, sym, scale, zp) => {
    const p = chooseQParams(min, max, range, sym);
    expect(p.scale).toBeCloseTo(scale, 10);
    expect(p.zeroPoint).toBe(zp);
  });

  it("keeps zero exact", () => {
    for (const [lo, hi] of [
      [-0.37, 2.1],
      [-5, 0.3],
      [0.2, 0.9],
    ]) {
      const p = chooseQParams(lo, hi, UINT8, false);
      expect(dequantizeValue(quantizeValue(0, p, UINT8), p)).toBe(0);
    }
  });
});

describe("rounding and round trips", () => {
  it.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, -0],
    [-1.5, -2],
    [1.2, 1],
  ])("roundHalfEven(%f) = %f", (v, r) => {
    expect(roundHalfEven(v)).toBe(r);
  });

  it("clamps outside the grid", () => {
    const p = { scale: 0.1, zeroPoint: 0 };
    expect(quantizeValue(100, p, INT8)).toBe(127);
    expect(quantizeValue(-100, p, INT8)).toBe(-128);
  });

  it.each([
    ["per-tensor symmetric int8", undefined, INT8, true],
    ["per-channel symmetric int8", 1, INT8, true],
    ["per-channel asymmetric uint8", 1, UINT8, false],
    ["per-tensor asymmetric uint8", undefined, UINT8, false],
  ] as const)("%s: error <= scale/2 everywhere", (_, axis, range, sym) => {
    const dims = [6, 4];
    const w = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 4)));
    const cq = quantizeTensor(w, dims, axis, range, sym);
    const back = dequantizeTensor(cq, dims, axis);
    expect(cq.scales.length).toBe(axis === undefined ? 1 : 4);
    for (let i = 0; i < w.length; i++) {
      const s = cq.scales[axis === undefined ? 0 : i % 4];
      expect(Math.abs(back[i] - w[i])).toBeLessThanOrEqual(s / 2 + 1e-7);
    }
  });

  it("per-channel scales follow each output column's range", () => {
    const w = Float32Array.from([1, 10, -2, 20]); // [2, 2]: column 0 max 2, column 1 max 20
    const cq = quantizeTensor(w, [2, 2], 1, INT8, true);
    expect([...cq.scales].map((s) => s * 127)).toEqual([
      expect.closeTo(2, 6),
      expect.closeTo(20, 6),
    ]);
  });
});

describe("int4 blockwise (MatMulNBits layout)", () => {
  const k = 40; // not a multiple of the block: padded to 64
  const n = 3;
  const w = Float32Array.from(
    { length: k * n },
    (_, i) => Math.cos(i * 0.7) * 0.5 + (i % 7) * 0.01,
  );

  it("packs [N, blocks, 16] bytes and two zero points per byte", () => {
    const bq = quantizeBlockwiseUint4(w, k, n, 32);
    expect(bq.blocks).toBe(2);
    expect(bq.packed.length).toBe(n * 2 * 16);
    expect(bq.scales.length).toBe(n * 2);
    expect(bq.zeroPoints.length).toBe(n);
  });

  it("round-trips within half a step per block", () => {
    const bq = quantizeBlockwiseUint4(w, k, n, 32);
    const back = dequantizeBlockwiseUint4(bq, k, n, 32);
    for (let row = 0; row < k; row++) {
      for (let col = 0; col < n; col++) {
        const s = bq.scales[col * bq.blocks + Math.floor(row / 32)];
        expect(Math.abs(back[row * n + col] - w[row * n + col])).toBeLessThanOrEqual(s / 2 + 1e-6);
      }
    }
  });

  it("puts element 0 of a block in the low nibble", () => {
    const one = new Float32Array(32 * 1);
    one[0] = 1; // k=32, n=1: min 0 max 1 -> scale 1/15, zp 0 -> q(1) = 15, q(0) = 0
    const bq = quantizeBlockwiseUint4(one, 32, 1, 32);
    expect(bq.packed[0]).toBe(0x0f);
    expect(bq.zeroPoints[0]).toBe(0);
  });
});
