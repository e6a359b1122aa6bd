import type { Split } from "../data/mnist";
import { backward, forwardTrace, type Grad, predict, zeroGrads } from "../nn/forward";
import { crossEntropy, distillationLoss } from "../nn/loss";
import { isWeightLayer, outputSize, type Sequential, shapeSize } from "../nn/model";
import { createRng, permutation } from "../nn/rng";
import { shiftImage } from "./augment";
import { Optimizer, type Param, type WeightSharing } from "./optimizer";

export interface DistillTarget {
  /** The teacher model (run per batch, so augmentation works) or its logits for every example. */
  teacher: Sequential | Float32Array;
  temperature: number;
  /** Weight of the soft (teacher) term; 1 - alpha goes to hard-label cross-entropy. */
  alpha: number;
}

export interface TrainOptions {
  optimizer: "sgd" | "adam";
  lr: number;
  /** SGD momentum (default 0.9). */
  momentum?: number;
  /** L2 on weights (not biases). */
  weightDecay?: number;
  epochs: number;
  batchSize: number;
  seed: number;
  /** "cosine" anneals lr to 0 over all steps; default constant. */
  lrSchedule?: "constant" | "cosine";
  /** Random translation of 28x28 inputs by up to `shift` pixels. */
  augment?: { shift: number };
  /** Inverted dropout on hidden dense ReLU outputs. */
  dropout?: number;
  /** Per-layer weight masks (1 keep, 0 pruned): pruned weights stay exactly 0. */
  masks?: Array<Uint8Array | undefined>;
  /** Per-layer shared-weight clusters (Deep Compression stage 2): train centroids only. */
  sharing?: Array<WeightSharing | undefined>;
  distill?: DistillTarget;
  onProgress?(epoch: number, step: number, loss: number): void;
}

export interface TrainResult {
  /** Mean training loss of each epoch. */
  epochLoss: number[];
  steps: number;
}

export class TrainOptionsError extends Error {
  override name = "TrainOptionsError";
}

/**
 * Trains `model` in place with mini-batch softmax cross-entropy (or the distillation loss).
 * Deterministic: the same model, data and options give bit-identical weights.
 */
export function trainClassifier(model: Sequential, data: Split, opts: TrainOptions): TrainResult {
  validate(model, data, opts);
  const rng = createRng(opts.seed);
  const grads = zeroGrads(model);
  const params = collectParams(model, grads, opts);
  const optimizer = new Optimizer(params, {
    kind: opts.optimizer,
    momentum: opts.momentum ?? 0.9,
    weightDecay: opts.weightDecay ?? 0,
  });
  const width = shapeSize(model.inputShape);
  const k = outputSize(model);
  const stepsPerEpoch = Math.ceil(data.n / opts.batchSize);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const epochLoss: number[] = [];
  let step = 0;
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const order = permutation(data.n, rng);
    let sum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const idx = order.subarray(s * opts.batchSize, Math.min(data.n, (s + 1) * opts.batchSize));
      const xb = gatherBatch(data, idx, width, opts.augment?.shift ?? 0, rng);
      for (const p of params) p.grad.fill(0);
      const loss = batchStep(model, xb, data, idx, k, grads, opts, rng.next);
      optimizer.step(learningRate(opts, step, totalSteps));
      sum += loss * idx.length;
      step++;
      opts.onProgress?.(epoch, step, loss);
    }
    epochLoss.push(sum / data.n);
  }
  return { epochLoss, steps: step };
}

function validate(model: Sequential, data: Split, opts: TrainOptions): void {
  const width = shapeSize(model.inputShape);
  if (data.x.length !== data.n * width) {
    throw new TrainOptionsError(
      `data has ${data.x.length / data.n} features, model wants ${width}`,
    );
  }
  if (!(opts.batchSize >= 1) || !(opts.epochs >= 0) || !(opts.lr > 0)) {
    throw new TrainOptionsError("batchSize >= 1, epochs >= 0 and lr > 0 are required");
  }
  const t = opts.distill?.teacher;
  if (t instanceof Float32Array) {
    if (t.length !== data.n * outputSize(model)) {
      throw new TrainOptionsError("teacher logits must be n * classes");
    }
    if (opts.augment?.shift) {
      throw new TrainOptionsError("precomputed teacher logits cannot follow augmented inputs");
    }
  }
  if (opts.augment?.shift && width !== 784) {
    throw new TrainOptionsError("shift augmentation needs 28x28 single-channel inputs");
  }
}

function collectParams(
  model: Sequential,
  grads: Array<Grad | undefined>,
  opts: TrainOptions,
): Param[] {
  const params: Param[] = [];
  model.layers.forEach((layer, li) => {
    if (!isWeightLayer(layer)) return;
    const g = grads[li]!;
    const sharing = opts.sharing?.[li];
    const mask = opts.masks?.[li];
    if (mask && mask.length !== layer.weight.length) {
      throw new TrainOptionsError(`mask of layer ${li} has the wrong length`);
    }
    params.push({ value: layer.weight, grad: g.weight, decay: true, mask, sharing });
    params.push({ value: layer.bias, grad: g.bias, decay: false });
  });
  return params;
}

function gatherBatch(
  data: Split,
  idx: Uint32Array,
  width: number,
  shift: number,
  rng: ReturnType<typeof createRng>,
): Float32Array {
  const xb = new Float32Array(idx.length * width);
  for (let b = 0; b < idx.length; b++) {
    const src = data.x.subarray(idx[b] * width, (idx[b] + 1) * width);
    if (shift) shiftImage(src, xb.subarray(b * width, (b + 1) * width), 28, shift, rng);
    else xb.set(src, b * width);
  }
  return xb;
}

function batchStep(
  model: Sequential,
  xb: Float32Array,
  data: Split,
  idx: Uint32Array,
  k: number,
  grads: Array<Grad | undefined>,
  opts: TrainOptions,
  rnd: () => number,
): number {
  const n = idx.length;
  const trace = forwardTrace(model, xb, n, { dropout: opts.dropout, rng: rnd });
  const logits = trace.outputs[trace.outputs.length - 1];
  const labels = new Uint8Array(n);
  for (let b = 0; b < n; b++) labels[b] = data.y[idx[b]];
  let out: { loss: number; grad: Float32Array };
  if (opts.distill) {
    const { teacher, temperature, alpha } = opts.distill;
    const t =
      teacher instanceof Float32Array ? gatherRows(teacher, idx, k) : predict(teacher, xb, n);
    out = distillationLoss(logits, t, labels, n, k, temperature, alpha);
  } else {
    out = crossEntropy(logits, labels, n, k);
  }
  backward(model, trace, out.grad, grads);
  return out.loss;
}

function gatherRows(all: Float32Array, idx: Uint32Array, k: number): Float32Array {
  const out = new Float32Array(idx.length * k);
  for (let b = 0; b < idx.length; b++) out.set(all.subarray(idx[b] * k, idx[b] * k + k), b * k);
  return out;
}

function learningRate(opts: TrainOptions, step: number, total: number): number {
  if (opts.lrSchedule !== "cosine") return opts.lr;
  return 0.5 * opts.lr * (1 + Math.cos((Math.PI * step) / total));
}
