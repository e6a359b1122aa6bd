// The Pareto front of a variant catalogue: a variant is on it when no other variant is at least
// as good on every axis (smaller, faster, at least as accurate) and strictly better on one.
// Pure; the model page plots it.

export interface ParetoPoint {
  id: string;
  bytes: number;
  latencyMs: number;
  /** null (unmeasured) counts as worst. */
  accuracy: number | null;
}

function dominates(a: ParetoPoint, b: ParetoPoint): boolean {
  const accA = a.accuracy ?? Number.NEGATIVE_INFINITY;
  const accB = b.accuracy ?? Number.NEGATIVE_INFINITY;
  const noWorse = a.bytes <= b.bytes && a.latencyMs <= b.latencyMs && accA >= accB;
  const better = a.bytes < b.bytes || a.latencyMs < b.latencyMs || accA > accB;
  return noWorse && better;
}

/** Ids of the points no other point dominates (O(n^2): catalogues hold tens of variants). */
export function paretoFront(points: readonly ParetoPoint[]): Set<string> {
  const front = new Set<string>();
  for (const p of points) {
    if (!points.some((q) => q !== p && dominates(q, p))) front.add(p.id);
  }
  return front;
}

/**
 * Points as uPlot's aligned columns: x (bytes) ascending and unique, one y column per group with
 * null where a group has no point at that x. Points sharing an x keep the first per group.
 */
export function scatterColumns(
  groups: readonly { x: number; y: number }[][],
): [number[], ...(number | null)[][]] {
  const xs = [...new Set(groups.flat().map((p) => p.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = groups.map((g) => {
    const col: (number | null)[] = xs.map(() => null);
    for (const p of g) {
      const i = at.get(p.x)!;
      if (col[i] === null) col[i] = p.y;
    }
    return col;
  });
  return [xs, ...ys];
}
