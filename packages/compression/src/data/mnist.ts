import { createRequire } from "node:module";
import { createRng, permutation } from "../nn/rng";

/** A labelled set of 28x28 digits: `x` holds n*784 pixels in [0, 1], row-major. */
export interface Split {
  x: Float32Array;
  y: Uint8Array;
  n: number;
}

export interface MnistSplit {
  train: Split;
  calibration: Split;
  test: Split;
}

export const MNIST_PIXELS = 784;
export const MNIST_CLASSES = 10;

/**
 * THE split used everywhere (training, calibration, evaluation, benchmarks). The `mnist` package
 * ships 10,000 real digits (863 to 1,127 per class). Per class, with a seeded shuffle
 * (SPLIT_SEED): 20 % (rounded) goes to the held-out test split, the rest to train; calibration is
 * 12.5 % (rounded) of each class's train images, so it is a SUBSET of train (quantizers calibrate
 * on data the model has seen, never on test). Result: train 8,000, calibration 999 (rounding),
 * test 2,000, all stratified. Train and calibration are interleaved by one more seeded shuffle
 * so that a prefix is still balanced.
 */
export const SPLIT_SEED = 20160101;
const TEST_FRACTION = 0.2;
const CALIBRATION_FRACTION = 0.125;

let cached: MnistSplit | undefined;

export function loadMnistSplit(): MnistSplit {
  if (!cached) cached = buildSplit(loadDigitsByClass());
  return cached;
}

function loadDigitsByClass(): Float32Array[] {
  const require = createRequire(import.meta.url);
  const out: Float32Array[] = [];
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const raw = require(`mnist/src/digits/${d}.json`) as { data: number[] };
    out.push(Float32Array.from(raw.data));
  }
  return out;
}

function buildSplit(byClass: Float32Array[]): MnistSplit {
  const rng = createRng(SPLIT_SEED);
  const train: Array<[number, number]> = [];
  const calibration: Array<[number, number]> = [];
  const test: Array<[number, number]> = [];
  byClass.forEach((pixels, label) => {
    const count = pixels.length / MNIST_PIXELS;
    const order = permutation(count, rng);
    const nTest = Math.round(count * TEST_FRACTION);
    const nCal = Math.round((count - nTest) * CALIBRATION_FRACTION);
    for (let i = 0; i < count; i++) {
      const item: [number, number] = [label, order[i]];
      if (i < nTest) test.push(item);
      else {
        train.push(item);
        if (i < nTest + nCal) calibration.push(item);
      }
    }
  });
  const pick = (items: Array<[number, number]>): Split => {
    const perm = permutation(items.length, rng);
    const n = items.length;
    const x = new Float32Array(n * MNIST_PIXELS);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const [label, idx] = items[perm[i]];
      x.set(
        byClass[label].subarray(idx * MNIST_PIXELS, (idx + 1) * MNIST_PIXELS),
        i * MNIST_PIXELS,
      );
      y[i] = label;
    }
    return { x, y, n };
  };
  return { train: pick(train), calibration: pick(calibration), test: pick(test) };
}

/** The first `n` examples of a split (splits are shuffled, so a prefix is a fair sample). */
export function takeSplit(split: Split, n: number): Split {
  const m = Math.min(n, split.n);
  const width = split.x.length / split.n;
  return { x: split.x.subarray(0, m * width), y: split.y.subarray(0, m), n: m };
}
