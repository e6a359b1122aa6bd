/** A fixed-range histogram of one tensor's values over calibration data. */
export interface Histogram {
  lo: number;
  hi: number;
  counts: Float64Array;
}

export function emptyHistogram(lo: number, hi: number, bins: number): Histogram {
  return { lo, hi: hi > lo ? hi : lo + 1e-6, counts: new Float64Array(bins) };
}

export function addToHistogram(h: Histogram, values: ArrayLike<number>): void {
  const bins = h.counts.length;
  const k = bins / (h.hi - h.lo);
  for (let i = 0; i < values.length; i++) {
    let b = Math.floor((values[i] - h.lo) * k);
    if (b < 0) b = 0;
    else if (b >= bins) b = bins - 1;
    h.counts[b]++;
  }
}

function binCenter(h: Histogram, b: number): number {
  return h.lo + ((b + 0.5) * (h.hi - h.lo)) / h.counts.length;
}

/** [lo, hi] keeping the central `percentile` % of the values (two-sided). */
export function percentileRange(h: Histogram, percentile: number): [number, number] {
  const total = h.counts.reduce((a, b) => a + b, 0);
  const tail = (total * (100 - percentile)) / 200;
  const width = (h.hi - h.lo) / h.counts.length;
  let acc = 0;
  let loBin = 0;
  while (loBin < h.counts.length - 1 && acc + h.counts[loBin] <= tail) acc += h.counts[loBin++];
  acc = 0;
  let hiBin = h.counts.length - 1;
  while (hiBin > 0 && acc + h.counts[hiBin] <= tail) acc += h.counts[hiBin--];
  return [h.lo + loBin * width, h.lo + (hiBin + 1) * width];
}

/**
 * Expected squared error of quantizing the histogram's values to `levels` steps over [lo, hi]:
 * clipped values cost their distance to the edge, others a uniform rounding error step^2/12.
 */
export function quantizationMse(h: Histogram, lo: number, hi: number, levels: number): number {
  const step = (hi - lo) / (levels - 1);
  let err = 0;
  let total = 0;
  for (let b = 0; b < h.counts.length; b++) {
    const c = h.counts[b];
    if (!c) continue;
    const x = binCenter(h, b);
    const d = x < lo ? lo - x : x > hi ? x - hi : 0;
    err += c * (d > 0 ? d * d : (step * step) / 12);
    total += c;
  }
  return total ? err / total : 0;
}

/** The clip range (a shrink of the full range toward 0) with the least expected error. */
export function mseRange(h: Histogram, levels = 256, candidates = 80): [number, number] {
  const lo0 = Math.min(h.lo, 0);
  const hi0 = Math.max(h.hi, 0);
  let best: [number, number] = [lo0, hi0];
  let bestErr = quantizationMse(h, lo0, hi0, levels);
  for (let i = 1; i < candidates; i++) {
    const f = 1 - (0.9 * i) / candidates;
    const err = quantizationMse(h, lo0 * f, hi0 * f, levels);
    if (err < bestErr) {
      bestErr = err;
      best = [lo0 * f, hi0 * f];
    }
  }
  return best;
}
