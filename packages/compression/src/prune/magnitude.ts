import type { Split } from "../data/mnist";
import { isWeightLayer, type Sequential } from "../nn/model";
import { type TrainOptions, trainClassifier } from "../train/trainer";

/** Per layer (indexed like model.layers): 1 = keep, 0 = pruned; undefined for layers left alone. */
export type Masks = Array<Uint8Array | undefined>;

export interface MagnitudeOptions {
  /**
   * Fraction of weights to remove. A number applies to every weight layer; an array gives one
   * value per weight layer in order (dense/conv layers only), layerwise scope only.
   */
  sparsity: number | number[];
  /** layerwise: each layer loses its own smallest |w|; global: one threshold over all layers. */
  scope?: "layerwise" | "global";
}

export class PruneOptionsError extends Error {
  override name = "PruneOptionsError";
}

/**
 * Magnitude masks. Exactly round(sparsity * count) entries are pruned; ties in |w| are broken by
 * position (earlier first) so masks are deterministic. Biases are never pruned.
 */
export function magnitudeMasks(model: Sequential, opts: MagnitudeOptions): Masks {
  const weightLayers = model.layers.flatMap((l, i) => (isWeightLayer(l) ? [i] : []));
  const perLayer = Array.isArray(opts.sparsity)
    ? opts.sparsity
    : weightLayers.map(() => opts.sparsity as number);
  if (perLayer.length !== weightLayers.length) {
    throw new PruneOptionsError(`need ${weightLayers.length} sparsities, got ${perLayer.length}`);
  }
  for (const s of perLayer) {
    if (!(s >= 0 && s <= 1)) throw new PruneOptionsError(`sparsity ${s} is not in [0, 1]`);
  }
  const masks: Masks = model.layers.map(() => undefined);
  if ((opts.scope ?? "layerwise") === "global") {
    if (Array.isArray(opts.sparsity)) {
      throw new PruneOptionsError("global pruning takes one sparsity for the whole model");
    }
    const tensors = weightLayers.map((li) => weightOf(model, li));
    const flat = concat(tensors);
    const keep = keepLargest(flat, Math.round(opts.sparsity * flat.length));
    let off = 0;
    weightLayers.forEach((li, k) => {
      masks[li] = keep.slice(off, off + tensors[k].length);
      off += tensors[k].length;
    });
    return masks;
  }
  weightLayers.forEach((li, k) => {
    const w = weightOf(model, li);
    masks[li] = keepLargest(w, Math.round(perLayer[k] * w.length));
  });
  return masks;
}

function weightOf(model: Sequential, li: number): Float32Array {
  const layer = model.layers[li];
  if (!isWeightLayer(layer)) throw new PruneOptionsError(`layer ${li} has no weights`);
  return layer.weight;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Mask that drops the `drop` entries of smallest magnitude. */
export function keepLargest(w: Float32Array, drop: number): Uint8Array {
  const mask = new Uint8Array(w.length).fill(1);
  if (drop <= 0) return mask;
  const idx = new Uint32Array(w.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  const mag = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) mag[i] = Math.abs(w[i]);
  idx.sort((a, b) => mag[a] - mag[b] || a - b);
  for (let i = 0; i < Math.min(drop, w.length); i++) mask[idx[i]] = 0;
  return mask;
}

/** Zeroes the pruned weights in place. */
export function applyMasks(model: Sequential, masks: Masks): void {
  masks.forEach((mask, li) => {
    if (!mask) return;
    const w = weightOf(model, li);
    for (let i = 0; i < w.length; i++) if (!mask[i]) w[i] = 0;
  });
}

export interface SparsityReport {
  /** Zero fraction of each weight layer (indexed like model.layers, undefined elsewhere). */
  layers: Array<number | undefined>;
  /** Zero fraction over all weights (biases excluded). */
  overall: number;
  nonZero: number;
  total: number;
}

export function sparsityOf(model: Sequential): SparsityReport {
  let zeros = 0;
  let total = 0;
  const layers = model.layers.map((l) => {
    if (!isWeightLayer(l)) return undefined;
    let z = 0;
    for (const v of l.weight) if (v === 0) z++;
    zeros += z;
    total += l.weight.length;
    return z / l.weight.length;
  });
  return { layers, overall: total ? zeros / total : 0, nonZero: total - zeros, total };
}

export interface IterativePruneOptions {
  /** Increasing sparsity targets, e.g. [0.5, 0.75, 0.9]; each step prunes then fine-tunes. */
  schedule: Array<number | number[]>;
  scope?: "layerwise" | "global";
  fineTune: TrainOptions;
  onStep?(step: number, masks: Masks): void;
}

/** Han et al.'s prune -> retrain loop. Mutates `model`; returns the final masks. */
export function iterativePrune(model: Sequential, data: Split, opts: IterativePruneOptions): Masks {
  let masks: Masks = model.layers.map(() => undefined);
  opts.schedule.forEach((sparsity, step) => {
    masks = magnitudeMasks(model, { sparsity, scope: opts.scope });
    applyMasks(model, masks);
    trainClassifier(model, data, { ...opts.fineTune, masks, seed: opts.fineTune.seed + step });
    opts.onStep?.(step, masks);
  });
  return masks;
}
