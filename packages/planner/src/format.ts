import type { CandidateEvaluation, Violation } from "./types";

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "∞ ms";
  // Three significant digits below 1 ms, so a 20 µs SLO does not read as "0.00 ms".
  if (ms < 1) return `${Number(ms.toPrecision(3))} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function fmtBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

export function fmtPct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function describeViolation(v: Violation): string {
  switch (v.constraint) {
    case "kernels":
      return `device cannot run ${(v.kernels ?? []).join("/")} kernels`;
    case "memory":
      return `needs ${fmtBytes(v.value)} > budget ${fmtBytes(v.limit)}`;
    case "accuracy":
      return `accuracy ${fmtPct(v.value)} < floor ${fmtPct(v.limit)}`;
    case "latency":
      return `predicted ${fmtMs(v.value)} > SLO ${fmtMs(v.limit).replace(".0 ms", " ms")}`;
  }
}

/** "int8-static: predicted 41.0 ms > SLO 30 ms; needs 80.0 MB > budget 64.0 MB" */
export function describeRejection(c: CandidateEvaluation): string {
  return `${c.name}: ${c.violations.map(describeViolation).join("; ")}`;
}

export function describeChoice(c: CandidateEvaluation, sloMs: number, budget: number): string {
  return (
    `chose ${c.name}: accuracy ${fmtPct(c.accuracy)}, predicted ${fmtMs(c.predictedMs)} ` +
    `<= SLO ${fmtMs(sloMs).replace(".0 ms", " ms")}, needs ${fmtBytes(c.memoryBytes)} of ${fmtBytes(budget)}`
  );
}
