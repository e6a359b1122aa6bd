import { describe, expect, it } from "vitest";
import {
  addToHistogram,
  emptyHistogram,
  mseRange,
  percentileRange,
  quantizationMse,
} from "./histogram";

function histOf(values: number[], bins = 1000) {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const h = emptyHistogram(lo, hi, bins);
  addToHistogram(h, values);
  return h;
}

describe("calibration histograms", () => {
  it("percentile drops the extreme tails", () => {
    const values = Array.from({ length: 10000 }, (_, i) => i / 10000);
    values.push(100); // one outlier
    const [lo, hi] = percentileRange(histOf(values, 10000), 99.9);
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(2);
  });

  it("percentile 100 keeps the full range", () => {
    const h = histOf([0, 1, 2, 3, 4]);
    expect(percentileRange(h, 100)).toEqual([0, 4]);
  });

  it("MSE search clips a heavy tail but not a uniform spread", () => {
    // Laplace(0, 1) by inverse CDF: the optimal 4-bit clip sits far inside the sample max.
    const laplace = Array.from({ length: 20000 }, (_, i) => {
      const u = (i + 0.5) / 20000 - 0.5;
      return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
    });
    const heavy = histOf(laplace, 2000);
    expect(mseRange(heavy, 16)[1]).toBeLessThan(0.6 * heavy.hi);
    const uniform = histOf(Array.from({ length: 5000 }, (_, i) => (i % 100) / 100));
    expect(mseRange(uniform, 16)[1]).toBeGreaterThan(0.95);
  });

  it("expected error grows with the step and with clipping", () => {
    const h = histOf(Array.from({ length: 100 }, (_, i) => i / 100));
    const full = quantizationMse(h, 0, 1, 256);
    expect(quantizationMse(h, 0, 1, 16)).toBeGreaterThan(full);
    expect(quantizationMse(h, 0, 0.5, 256)).toBeGreaterThan(full);
  });
});
