import type { RollupSummary } from "@edgefleet/protocol/rest";
import { fromStoredRollup, MINUTE_MS, type StoredRollup } from "./fold";
import { LatencySketch } from "./sketch";

export type { RollupSummary };

/**
 * Merges any group of rows: a device over an hour, a variant across the fleet, a rollout wave.
 * `spanMs` is the time the rows cover, for the throughput; by default one minute per distinct
 * minute among them, so minutes when nothing reported do not dilute it.
 * Throws SketchDecodeError when a stored sketch is unreadable.
 */
export function summarizeRollups(rows: readonly StoredRollup[], spanMs?: number): RollupSummary {
  const latency = new LatencySketch();
  const run = new LatencySketch();
  const minutes = new Set<number>();
  const s: RollupSummary = {
    messages: 0,
    requests: 0,
    errors: 0,
    rejected: 0,
    runs: 0,
    samples: 0,
    throughputPerS: 0,
    meanBatch: null,
    p50Ms: null,
    p95Ms: null,
    p99Ms: null,
    meanMs: null,
    minMs: null,
    maxMs: null,
    runP50Ms: null,
    runP95Ms: null,
    runMeanMs: null,
    queueDepthMax: 0,
    cpuPercentMax: 0,
    rssBytesMax: 0,
  };
  for (const stored of rows) {
    const r = fromStoredRollup(stored);
    minutes.add(r.minute.getTime());
    s.messages += r.messages;
    s.requests += r.requests;
    s.errors += r.errors;
    s.rejected += r.rejected;
    s.runs += r.runs;
    s.samples += r.samples;
    if (r.latency) latency.merge(r.latency);
    if (r.run) run.merge(r.run);
    s.queueDepthMax = Math.max(s.queueDepthMax, r.queueDepthMax);
    s.cpuPercentMax = Math.max(s.cpuPercentMax, r.cpuPercentMax);
    s.rssBytesMax = Math.max(s.rssBytesMax, r.rssBytesMax);
  }
  const span = spanMs ?? minutes.size * MINUTE_MS;
  s.throughputPerS = span > 0 ? s.requests / (span / 1000) : 0;
  s.meanBatch = s.runs > 0 ? s.samples / s.runs : null;
  if (latency.count > 0) {
    s.p50Ms = latency.quantile(0.5);
    s.p95Ms = latency.quantile(0.95);
    s.p99Ms = latency.quantile(0.99);
    s.meanMs = latency.sum / latency.count;
    s.minMs = latency.min;
    s.maxMs = latency.max;
  }
  if (run.count > 0) {
    s.runP50Ms = run.quantile(0.5);
    s.runP95Ms = run.quantile(0.95);
    s.runMeanMs = run.sum / run.count;
  }
  return s;
}

export interface SeriesPoint extends RollupSummary {
  /** Start of the bucket, ms since the epoch. */
  t: number;
}

/**
 * Rows grouped into buckets of `stepMs` (a whole number of minutes, so no row straddles two),
 * oldest first. Only buckets with rows appear; throughput is over the whole step.
 */
export function series(rows: readonly StoredRollup[], stepMs: number): SeriesPoint[] {
  if (!(Number.isInteger(stepMs / MINUTE_MS) && stepMs > 0)) {
    throw new RangeError(`step ${stepMs} ms is not a whole number of minutes`);
  }
  const buckets = new Map<number, StoredRollup[]>();
  for (const r of rows) {
    const t = Math.floor(r.minute.getTime() / stepMs) * stepMs;
    const bucket = buckets.get(t);
    if (bucket) bucket.push(r);
    else buckets.set(t, [r]);
  }
  return [...buckets]
    .sort(([a], [b]) => a - b)
    .map(([t, bucket]) => ({ t, ...summarizeRollups(bucket, stepMs) }));
}
