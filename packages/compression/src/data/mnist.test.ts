import { describe, expect, it } from "vitest";
import { loadMnistSplit, MNIST_PIXELS } from "./mnist";

describe("loadMnistSplit", () => {
  const s = loadMnistSplit();
  const key = (x: Float32Array, i: number) =>
    x.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS).join(",");

  it("has the documented sizes and is cached", () => {
    expect([s.train.n, s.calibration.n, s.test.n]).toEqual([8000, 999, 2000]);
    expect(s.train.x.length).toBe(8000 * MNIST_PIXELS);
    expect(loadMnistSplit()).toBe(s);
  });

  it("is stratified: every class has 20 % (rounded) of its digits in test", () => {
    const perClass = (y: Uint8Array) => {
      const c = new Array(10).fill(0);
      for (const v of y) c[v]++;
      return c;
    };
    const train = perClass(s.train.y);
    const test = perClass(s.test.y);
    for (let c = 0; c < 10; c++)
      expect(Math.abs(test[c] - 0.2 * (train[c] + test[c]))).toBeLessThanOrEqual(0.5);
  });

  it("keeps test disjoint from train and calibration inside train", () => {
    const train = new Set(Array.from({ length: s.train.n }, (_, i) => key(s.train.x, i)));
    let shared = 0;
    for (let i = 0; i < s.test.n; i++) if (train.has(key(s.test.x, i))) shared++;
    // MNIST holds a handful of pixel-identical duplicates across writers; allow those only
    expect(shared).toBeLessThan(5);
    for (let i = 0; i < s.calibration.n; i++) expect(train.has(key(s.calibration.x, i))).toBe(true);
  });

  it("pixels are in [0, 1]", () => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of s.test.x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect([lo, hi]).toEqual([0, 1]);
  });
});
