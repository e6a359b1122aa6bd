/** One trainable tensor. `mask` zeroes pruned entries; `sharing` trains shared centroids. */
export interface Param {
  value: Float32Array;
  grad: Float32Array;
  /** Apply weight decay to this tensor (weights yes, biases no). */
  decay: boolean;
  mask?: Uint8Array;
  sharing?: WeightSharing;
}

/**
 * Deep Compression weight sharing: entry i of the weight equals centroids[assignment[i]], or 0
 * where assignment[i] is -1 (pruned). Fine-tuning updates the centroids with the summed gradient
 * of their members, so the tensor keeps at most centroids.length distinct non-zero values.
 */
export interface WeightSharing {
  centroids: Float32Array;
  assignment: Int16Array;
}

export interface OptimizerConfig {
  kind: "sgd" | "adam";
  momentum: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export class Optimizer {
  private readonly state1: Float32Array[];
  private readonly state2: Float32Array[];
  private steps = 0;

  constructor(
    private readonly params: Param[],
    private readonly cfg: OptimizerConfig,
  ) {
    const size = (p: Param) => (p.sharing ? p.sharing.centroids.length : p.value.length);
    this.state1 = params.map((p) => new Float32Array(size(p)));
    this.state2 = params.map((p) => new Float32Array(cfg.kind === "adam" ? size(p) : 0));
  }

  step(lr: number): void {
    this.steps++;
    this.params.forEach((p, k) => {
      if (p.sharing) {
        this.update(this.state1[k], this.state2[k], p.sharing.centroids, gatherShared(p), lr, p);
        scatterShared(p.sharing, p.value);
        return;
      }
      if (p.mask) maskInPlace(p.grad, p.mask);
      this.update(this.state1[k], this.state2[k], p.value, p.grad, lr, p);
      if (p.mask) maskInPlace(p.value, p.mask);
    });
  }

  private update(
    m: Float32Array,
    v: Float32Array,
    w: Float32Array,
    g: Float32Array,
    lr: number,
    p: Param,
  ): void {
    const wd = p.decay ? this.cfg.weightDecay : 0;
    if (this.cfg.kind === "sgd") {
      const mu = this.cfg.momentum;
      for (let i = 0; i < w.length; i++) {
        m[i] = mu * m[i] + g[i] + wd * w[i];
        w[i] -= lr * m[i];
      }
      return;
    }
    const b1 = this.cfg.beta1 ?? 0.9;
    const b2 = this.cfg.beta2 ?? 0.999;
    const eps = this.cfg.eps ?? 1e-8;
    const c1 = 1 - b1 ** this.steps;
    const c2 = 1 - b2 ** this.steps;
    for (let i = 0; i < w.length; i++) {
      const gi = g[i] + wd * w[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      w[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
    }
  }
}

function maskInPlace(a: Float32Array, mask: Uint8Array): void {
  for (let i = 0; i < a.length; i++) if (!mask[i]) a[i] = 0;
}

function gatherShared(p: Param): Float32Array {
  const { centroids, assignment } = p.sharing!;
  const g = new Float32Array(centroids.length);
  for (let i = 0; i < assignment.length; i++) {
    const a = assignment[i];
    if (a >= 0) g[a] += p.grad[i];
  }
  return g;
}

export function scatterShared(sharing: WeightSharing, weight: Float32Array): void {
  const { centroids, assignment } = sharing;
  for (let i = 0; i < assignment.length; i++) {
    const a = assignment[i];
    weight[i] = a >= 0 ? centroids[a] : 0;
  }
}
