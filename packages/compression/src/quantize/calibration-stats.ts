// Calibration statistics as plain values: per-tensor ranges (pass 1) and fixed-range histograms
// (pass 2), how to accumulate, merge and turn them into activation ranges. Central calibration
// and federated calibration (devices measure, the control plane merges) share every function
// here, so merging the statistics of a partition gives exactly what one pass over the union does.
import {
  addToHistogram,
  emptyHistogram,
  type Histogram,
  mseRange,
  percentileRange,
} from "./histogram";
import { minMax } from "./qmath";

export type CalibrationMethod = "minmax" | "percentile" | "mse";

export const DEFAULT_HISTOGRAM_BINS = 2048;
export const DEFAULT_PERCENTILE = 99.99;

/** One tensor's observed range over some data, and how many values it saw. */
export interface RangeStats {
  min: number;
  max: number;
  count: number;
}

export function emptyRangeStats(): RangeStats {
  return { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, count: 0 };
}

export function accumulateRange(s: RangeStats, values: ArrayLike<number>): void {
  if (values.length === 0) return;
  const [lo, hi] = minMax(values);
  s.min = Math.min(s.min, lo);
  s.max = Math.max(s.max, hi);
  s.count += values.length;
}

/** Min of mins, max of maxes, sum of counts; every part must name the same tensors. */
export function mergeRangeStats(
  parts: readonly ReadonlyMap<string, RangeStats>[],
): Map<string, RangeStats> {
  if (parts.length === 0) throw new RangeError("nothing to merge");
  const names = [...parts[0].keys()];
  const out = new Map(names.map((n) => [n, emptyRangeStats()] as const));
  for (const [i, part] of parts.entries()) {
    if (part.size !== names.length || names.some((n) => !part.has(n))) {
      throw new RangeError(`part ${i} does not hold the same tensors as part 0`);
    }
    for (const [name, s] of part) {
      const m = out.get(name) as RangeStats;
      m.min = Math.min(m.min, s.min);
      m.max = Math.max(m.max, s.max);
      m.count += s.count;
    }
  }
  return out;
}

/** The histogram pass 2 fills for a tensor: fixed bins over the (merged) range of pass 1. */
export function histogramFor(range: Pick<RangeStats, "min" | "max">, bins: number): Histogram {
  return emptyHistogram(range.min, range.max, bins);
}

/** Sums of counts bin by bin: exact only over identical bins, so anything else is refused. */
export function mergeHistograms(
  parts: readonly ReadonlyMap<string, Histogram>[],
): Map<string, Histogram> {
  if (parts.length === 0) throw new RangeError("nothing to merge");
  const out = new Map<string, Histogram>();
  for (const [name, h] of parts[0]) {
    out.set(name, { lo: h.lo, hi: h.hi, counts: new Float64Array(h.counts.length) });
  }
  for (const [i, part] of parts.entries()) {
    if (part.size !== out.size) throw new RangeError(`part ${i} holds other tensors`);
    for (const [name, h] of part) {
      const m = out.get(name);
      if (!m) throw new RangeError(`part ${i} holds tensor "${name}" that part 0 does not`);
      if (m.lo !== h.lo || m.hi !== h.hi || m.counts.length !== h.counts.length) {
        throw new RangeError(`part ${i}: tensor "${name}" has other bins than part 0`);
      }
      for (let b = 0; b < h.counts.length; b++) m.counts[b] += h.counts[b];
    }
  }
  return out;
}

export { addToHistogram };

/** One tensor's activation range for the method (minmax needs no histogram). */
export function rangeOf(
  range: Pick<RangeStats, "min" | "max">,
  histogram: Histogram | undefined,
  method: CalibrationMethod,
  percentile = DEFAULT_PERCENTILE,
): [number, number] {
  if (method === "minmax") return [range.min, range.max];
  if (!histogram) throw new RangeError(`method ${method} needs a histogram`);
  if (method === "percentile") return percentileRange(histogram, percentile);
  return mseRange(histogram);
}

/** Activation ranges of every tensor, as quantizeStatic takes them. */
export function rangesFromStats(
  ranges: ReadonlyMap<string, RangeStats>,
  histograms: ReadonlyMap<string, Histogram> | undefined,
  method: CalibrationMethod,
  percentile = DEFAULT_PERCENTILE,
): Map<string, [number, number]> {
  return new Map(
    [...ranges].map(([t, r]) => [t, rangeOf(r, histograms?.get(t), method, percentile)] as const),
  );
}
