import type { Split } from "../data/mnist";
import { predict } from "./forward";
import { argmaxRows } from "./loss";
import { outputSize, type Sequential, shapeSize } from "./model";

/** Logits of a whole split, computed in chunks to bound memory. */
export function predictSplit(model: Sequential, data: Split, chunk = 500): Float32Array {
  const width = shapeSize(model.inputShape);
  const k = outputSize(model);
  const out = new Float32Array(data.n * k);
  for (let s = 0; s < data.n; s += chunk) {
    const m = Math.min(chunk, data.n - s);
    out.set(predict(model, data.x.subarray(s * width, (s + m) * width), m), s * k);
  }
  return out;
}

/** Misclassified examples of a split, by the TS forward pass. */
export function countErrors(model: Sequential, data: Split): number {
  const pred = argmaxRows(predictSplit(model, data), data.n, outputSize(model));
  let errors = 0;
  for (let i = 0; i < data.n; i++) if (pred[i] !== data.y[i]) errors++;
  return errors;
}

/** Top-1 accuracy in [0, 1], by the TS forward pass. */
export function accuracyOf(model: Sequential, data: Split): number {
  return 1 - countErrors(model, data) / data.n;
}
