// A small seeded generator and the draws the simulation needs. Seeded per device, so a run with
// the same fleet file and seed draws the same latencies (a benchmark can be repeated).

/** mulberry32: 32 bits of state, fast, good enough for simulated latencies. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]: log(0) would be -Infinity
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Log-normal with median 1: multiplies a latency by a spread of `sigma` in log space. */
  logNormal(sigma: number): number {
    return sigma === 0 ? 1 : Math.exp(sigma * this.normal());
  }

  /** Events of a Poisson process of mean `lambda` (Knuth below 30, normal above). */
  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda >= 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  /** Successes in `n` trials of probability `p` (exact up to 1,000 trials, normal above). */
  binomial(n: number, p: number): number {
    if (n <= 1_000) {
      let k = 0;
      for (let i = 0; i < n; i++) if (this.next() < p) k++;
      return k;
    }
    const draw = Math.round(n * p + Math.sqrt(n * p * (1 - p)) * this.normal());
    return Math.min(n, Math.max(0, draw));
  }
}

/** A 32-bit seed from a string (FNV-1a), e.g. a device id mixed with the run's seed. */
export function seedOf(text: string, salt = 0): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
