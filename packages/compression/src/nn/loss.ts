/**
 * Softmax with temperature, row-wise over n rows of k logits: softmax(z / T). Computed with the
 * row max subtracted so large logits do not overflow.
 */
export function softmax(logits: Float32Array, n: number, k: number, temperature = 1): Float32Array {
  const out = new Float32Array(n * k);
  for (let r = 0; r < n; r++) softmaxRow(logits, out, r * k, k, temperature);
  return out;
}

function softmaxRow(z: Float32Array, out: Float32Array, off: number, k: number, T: number) {
  let max = -Infinity;
  for (let j = 0; j < k; j++) if (z[off + j] > max) max = z[off + j];
  let sum = 0;
  for (let j = 0; j < k; j++) {
    const e = Math.exp((z[off + j] - max) / T);
    out[off + j] = e;
    sum += e;
  }
  for (let j = 0; j < k; j++) out[off + j] /= sum;
}

export interface LossAndGrad {
  /** Mean loss over the batch. */
  loss: number;
  /** d(mean loss)/d(logits), n * k. */
  grad: Float32Array;
}

/** Mean softmax cross-entropy against hard labels. */
export function crossEntropy(logits: Float32Array, labels: Uint8Array, n: number, k: number) {
  const p = softmax(logits, n, k);
  let loss = 0;
  for (let r = 0; r < n; r++) {
    const y = labels[r];
    loss -= Math.log(Math.max(p[r * k + y], 1e-30));
    p[r * k + y] -= 1;
  }
  for (let i = 0; i < p.length; i++) p[i] /= n;
  return { loss: loss / n, grad: p } satisfies LossAndGrad;
}

/**
 * Hinton et al. (2015) distillation loss, mean over the batch:
 *   alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(labels, softmax(s)).
 * The T^2 keeps the soft term's gradient magnitude independent of T, so alpha means the same
 * thing at every temperature. Gradient: alpha*T*(p_s^T - p_t^T) + (1-alpha)*(p_s - onehot).
 */
export function distillationLoss(
  student: Float32Array,
  teacher: Float32Array,
  labels: Uint8Array,
  n: number,
  k: number,
  temperature: number,
  alpha: number,
): LossAndGrad {
  const T = temperature;
  const ps = softmax(student, n, k, T);
  const pt = softmax(teacher, n, k, T);
  const hard = crossEntropy(student, labels, n, k);
  let kl = 0;
  const grad = hard.grad;
  for (let i = 0; i < ps.length; i++) {
    if (pt[i] > 0) kl += pt[i] * (Math.log(pt[i]) - Math.log(Math.max(ps[i], 1e-30)));
    grad[i] = (1 - alpha) * grad[i] + (alpha * T * (ps[i] - pt[i])) / n;
  }
  return { loss: (alpha * T * T * kl) / n + (1 - alpha) * hard.loss, grad };
}

export function argmaxRows(logits: Float32Array, n: number, k: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[r * k + j] > logits[r * k + best]) best = j;
    out[r] = best;
  }
  return out;
}
