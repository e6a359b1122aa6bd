import { isWeightLayer, type Sequential } from "../nn/model";
import { scatterShared, type WeightSharing } from "../train/optimizer";

/**
 * 1-D k-means over the non-zero entries of `weight` (Deep Compression stage 2). Centroids start
 * spread linearly between min and max, which Han et al. found keeps the rare large weights
 * represented. Zeros stay zero (assignment -1). Deterministic.
 */
export function clusterWeights(weight: Float32Array, k: number, iterations = 30): WeightSharing {
  const assignment = new Int16Array(weight.length).fill(-1);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of weight) {
    if (v === 0) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return { centroids: new Float32Array(0), assignment };
  const centroids = new Float64Array(k);
  for (let c = 0; c < k; c++)
    centroids[c] = k === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * c) / (k - 1);
  const sums = new Float64Array(k);
  const counts = new Uint32Array(k);
  for (let it = 0; it < iterations; it++) {
    sums.fill(0);
    counts.fill(0);
    let moved = false;
    for (let i = 0; i < weight.length; i++) {
      const v = weight[i];
      if (v === 0) continue;
      const c = nearest(centroids, v);
      if (assignment[i] !== c) moved = true;
      assignment[i] = c;
      sums[c] += v;
      counts[c]++;
    }
    for (let c = 0; c < k; c++) if (counts[c]) centroids[c] = sums[c] / counts[c];
    if (!moved) break;
  }
  return { centroids: Float32Array.from(centroids), assignment };
}

/** Centroids are kept sorted by the linear init and Lloyd steps, so binary search finds the nearest. */
function nearest(c: Float64Array, v: number): number {
  let lo = 0;
  let hi = c.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (c[mid] <= v) lo = mid;
    else hi = mid;
  }
  return Math.abs(v - c[lo]) <= Math.abs(v - c[hi]) ? lo : hi;
}

/**
 * Clusters every weight layer to 2^bits shared values (a number, or one per weight layer in order)
 * and writes the shared values into the model. Returns the sharing to fine-tune the centroids.
 */
export function shareWeights(
  model: Sequential,
  bits: number | number[],
): Array<WeightSharing | undefined> {
  let k = 0;
  return model.layers.map((layer) => {
    if (!isWeightLayer(layer)) return undefined;
    const b = Array.isArray(bits) ? bits[k++] : bits;
    const sharing = clusterWeights(layer.weight, 2 ** b);
    scatterShared(sharing, layer.weight);
    return sharing;
  });
}
