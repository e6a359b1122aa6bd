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
 * Points as uPlot's aligned columns: one x per point, ascending (variants of equal size each keep
 * their own column, so none is hidden), one y column per group with null where the point is
 * another group's, and each point's name at its x for the chart to write beside it.
 */
export function scatterColumns(groups: readonly { x: number; y: number; name?: string }[][]): {
  xs: number[];
  ys: (number | null)[][];
  names: (string | null)[];
} {
  const all = groups
    .flatMap((g, group) => g.map((p) => ({ ...p, group })))
    .sort((a, b) => a.x - b.x || a.group - b.group);
  return {
    xs: all.map((p) => p.x),
    ys: groups.map((_, group) => all.map((p) => (p.group === group ? p.y : null))),
    names: all.map((p) => p.name ?? null),
  };
}
