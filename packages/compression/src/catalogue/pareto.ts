/** A point to compare: lower bytes and latency are better, higher quality is better. */
export interface ParetoPoint {
  bytes: number;
  latencyMs: number;
  quality: number;
}

/** a is at least as good as b everywhere and strictly better somewhere */
export function dominates(a: ParetoPoint, b: ParetoPoint): boolean {
  const noWorse = a.bytes <= b.bytes && a.latencyMs <= b.latencyMs && a.quality >= b.quality;
  const better = a.bytes < b.bytes || a.latencyMs < b.latencyMs || a.quality > b.quality;
  return noWorse && better;
}

/** Indices of the points no other point dominates. */
export function paretoFront(points: readonly ParetoPoint[]): number[] {
  return points.flatMap((p, i) => (points.some((q, j) => j !== i && dominates(q, p)) ? [] : [i]));
}

export interface Constraints {
  /** maximum accuracy drop in percentage points (or top-1 disagreement when unlabelled) */
  maxDropPoints: number;
  maxBytes?: number;
  maxLatencyMs?: number;
}

/** Why a variant breaks the constraints (empty when it fits). */
export function violations(
  v: { dropPoints: number; bytes: number; latencyMs: number },
  c: Constraints,
): string[] {
  const out: string[] = [];
  if (v.dropPoints > c.maxDropPoints + 1e-9) {
    out.push(`drop ${v.dropPoints.toFixed(2)} pt > ${c.maxDropPoints} pt`);
  }
  if (c.maxBytes !== undefined && v.bytes > c.maxBytes) out.push(`${v.bytes} B > ${c.maxBytes} B`);
  if (c.maxLatencyMs !== undefined && v.latencyMs > c.maxLatencyMs) {
    out.push(`b1 ${v.latencyMs.toFixed(3)} ms > ${c.maxLatencyMs} ms`);
  }
  return out;
}
