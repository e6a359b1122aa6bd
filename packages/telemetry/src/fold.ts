// Telemetry folded into rollups per device x variant x minute, each message exactly once.
import type { Telemetry } from "@edgefleet/protocol";
import { type Cursor, compareCursor, hasSeen, markSeen } from "./cursor";
import { RollupKeyMismatchError, SketchDecodeError } from "./errors";
import { LatencySketch } from "./sketch";

/** A rollup in memory: what a batch adds to a row, or a row read back (`fromStoredRollup`). */
export interface RollupDelta {
  deviceId: string;
  variantId: string;
  minute: Date;
  messages: number;
  requests: number;
  errors: number;
  rejected: number;
  runs: number;
  samples: number;
  latency: LatencySketch | null;
  run: LatencySketch | null;
  /** Shadow comparisons with the previous variant, and how many agreed on the top-1 class. */
  shadowCompared: number;
  shadowAgreed: number;
  queueDepthMax: number;
  cpuPercentMax: number;
  rssBytesMax: number;
}
export type RollupRow = RollupDelta;

/**
 * A `TelemetryRollup` row as Postgres keeps it. `rssBytesMax` is a BIGINT there: the repository
 * converts (it stays below 2^53). `updatedAt` is the repository's to set.
 */
export interface StoredRollup {
  deviceId: string;
  variantId: string;
  minute: Date;
  messages: number;
  requests: number;
  errors: number;
  rejected: number;
  runs: number;
  samples: number;
  latencySketch: Uint8Array | null;
  latencyCount: number;
  latencySumMs: number;
  latencyMinMs: number | null;
  latencyMaxMs: number | null;
  runSketch: Uint8Array | null;
  runCount: number;
  runSumMs: number;
  shadowCompared: number;
  shadowAgreed: number;
  queueDepthMax: number;
  cpuPercentMax: number;
  rssBytesMax: number;
}

/** A message that was consumed (its cursor advanced) but not folded: its sketch was bad. */
export interface InvalidTelemetry {
  deviceId: string;
  epoch: number;
  seq: number;
  error: SketchDecodeError;
}

export interface FoldResult {
  deltas: RollupDelta[];
  /** Only the devices whose cursor moved. */
  cursors: Map<string, Cursor>;
  folded: number;
  duplicates: number;
  skippedNoVariant: number;
  invalid: InvalidTelemetry[];
}

export const MINUTE_MS = 60_000;

/**
 * Folds a batch. Each device's messages are taken in (epoch, seq) order, whatever order they
 * arrived in; one the device's cursor (given, or advanced earlier in this batch) has seen is a
 * duplicate and skipped. The cursor remembers each of the last SEEN_WINDOW seqs (cursor.ts), so a
 * message redelivered after newer ones were folded is folded, once.
 *
 * A message is bucketed by the minute its window starts in, whole: a window from 12:00:58 to
 * 12:01:03 counts in 12:00. Splitting it would need the time of each request, which the sketch
 * does not keep; a window is a few seconds, so a minute is off by at most that much.
 *
 * A message without a variant (nothing loaded) and one whose sketch does not decode advance the
 * cursor and fold nothing: a redelivery would be the same. Nothing given is mutated.
 */
export function foldTelemetry(
  batch: ReadonlyArray<{ deviceId: string; message: Telemetry }>,
  cursors: ReadonlyMap<string, Cursor>,
): FoldResult {
  const byDevice = new Map<string, Telemetry[]>();
  for (const { deviceId, message } of batch) {
    const list = byDevice.get(deviceId);
    if (list) list.push(message);
    else byDevice.set(deviceId, [message]);
  }

  const deltas = new Map<string, RollupDelta>();
  const result: FoldResult = {
    deltas: [],
    cursors: new Map(),
    folded: 0,
    duplicates: 0,
    skippedNoVariant: 0,
    invalid: [],
  };
  for (const [deviceId, messages] of byDevice) {
    messages.sort(compareCursor); // stable: of two copies of one message, the first to arrive wins
    let cursor = cursors.get(deviceId);
    for (const m of messages) {
      if (hasSeen(cursor, m)) {
        result.duplicates++;
        continue;
      }
      cursor = markSeen(cursor, m);
      result.cursors.set(deviceId, cursor);
      if (m.variantId === null) {
        result.skippedNoVariant++;
        continue;
      }
      let latency: LatencySketch | null;
      let run: LatencySketch | null;
      try {
        latency = m.latency && LatencySketch.fromSummary(m.latency);
        run = m.runBatch1 && LatencySketch.fromSummary(m.runBatch1);
      } catch (err) {
        if (!(err instanceof SketchDecodeError)) throw err;
        result.invalid.push({ deviceId, epoch: m.epoch, seq: m.seq, error: err });
        continue;
      }
      const minute = Math.floor(m.windowStart / MINUTE_MS) * MINUTE_MS;
      const key = `${deviceId} ${m.variantId} ${minute}`;
      const d = deltas.get(key);
      const one: RollupDelta = {
        deviceId,
        variantId: m.variantId,
        minute: new Date(minute),
        messages: 1,
        requests: m.requests,
        errors: m.errors,
        rejected: m.rejected,
        runs: m.runs,
        samples: m.samples,
        latency,
        run,
        shadowCompared: m.shadow?.compared ?? 0,
        shadowAgreed: m.shadow?.agreed ?? 0,
        queueDepthMax: Math.max(m.queueDepthMax, m.queueDepth),
        cpuPercentMax: m.cpuPercent,
        rssBytesMax: m.rssBytes,
      };
      if (d) addRollup(d, one);
      else deltas.set(key, one);
      result.folded++;
    }
  }
  result.deltas = [...deltas.values()];
  return result;
}

/**
 * Adds `b` into `a` in memory: counters add, sketches merge, maxima take the larger. `b` is left
 * as it was. For rows kept open in memory and written later (see the README).
 */
export function addRollup(a: RollupDelta, b: RollupDelta): void {
  a.messages += b.messages;
  a.requests += b.requests;
  a.errors += b.errors;
  a.rejected += b.rejected;
  a.runs += b.runs;
  a.samples += b.samples;
  a.latency = mergeSketch(a.latency, b.latency);
  a.run = mergeSketch(a.run, b.run);
  a.shadowCompared += b.shadowCompared;
  a.shadowAgreed += b.shadowAgreed;
  a.queueDepthMax = Math.max(a.queueDepthMax, b.queueDepthMax);
  a.cpuPercentMax = Math.max(a.cpuPercentMax, b.cpuPercentMax);
  a.rssBytesMax = Math.max(a.rssBytesMax, b.rssBytesMax);
}

function mergeSketch(a: LatencySketch | null, b: LatencySketch | null): LatencySketch | null {
  if (!b) return a;
  if (!a) return new LatencySketch().merge(b); // a copy: `b` may belong to the caller
  return a.merge(b);
}

/**
 * The row after `delta`: what an upsert writes. Throws RollupKeyMismatchError for another key,
 * and SketchDecodeError when the stored sketch is unreadable.
 */
export function mergeRollup(existing: StoredRollup | undefined, delta: RollupDelta): StoredRollup {
  if (!existing) return toStoredRollup(delta);
  if (
    existing.deviceId !== delta.deviceId ||
    existing.variantId !== delta.variantId ||
    existing.minute.getTime() !== delta.minute.getTime()
  ) {
    throw new RollupKeyMismatchError(
      `row ${existing.deviceId}/${existing.variantId}/${existing.minute.toISOString()} ` +
        `cannot take a delta for ${delta.deviceId}/${delta.variantId}/${delta.minute.toISOString()}`,
    );
  }
  const row = fromStoredRollup(existing);
  addRollup(row, delta);
  return toStoredRollup(row);
}

export function toStoredRollup(r: RollupDelta): StoredRollup {
  return {
    deviceId: r.deviceId,
    variantId: r.variantId,
    minute: r.minute,
    messages: r.messages,
    requests: r.requests,
    errors: r.errors,
    rejected: r.rejected,
    runs: r.runs,
    samples: r.samples,
    latencySketch: r.latency?.count ? r.latency.toBytes() : null,
    latencyCount: r.latency?.count ?? 0,
    latencySumMs: r.latency?.sum ?? 0,
    latencyMinMs: r.latency?.min ?? null,
    latencyMaxMs: r.latency?.max ?? null,
    runSketch: r.run?.count ? r.run.toBytes() : null,
    runCount: r.run?.count ?? 0,
    runSumMs: r.run?.sum ?? 0,
    shadowCompared: r.shadowCompared,
    shadowAgreed: r.shadowAgreed,
    queueDepthMax: r.queueDepthMax,
    cpuPercentMax: r.cpuPercentMax,
    rssBytesMax: r.rssBytesMax,
  };
}

/** Throws SketchDecodeError when a stored sketch is unreadable or disagrees with its count. */
export function fromStoredRollup(s: StoredRollup): RollupDelta {
  return {
    deviceId: s.deviceId,
    variantId: s.variantId,
    minute: s.minute,
    messages: s.messages,
    requests: s.requests,
    errors: s.errors,
    rejected: s.rejected,
    runs: s.runs,
    samples: s.samples,
    latency:
      s.latencySketch &&
      LatencySketch.fromBytes(s.latencySketch, {
        count: s.latencyCount,
        sum: s.latencySumMs,
        min: s.latencyMinMs,
        max: s.latencyMaxMs,
      }),
    // The table keeps no run min/max: they come back from the outer bins, within 1 %.
    run:
      s.runSketch && LatencySketch.fromBytes(s.runSketch, { count: s.runCount, sum: s.runSumMs }),
    shadowCompared: s.shadowCompared,
    shadowAgreed: s.shadowAgreed,
    queueDepthMax: s.queueDepthMax,
    cpuPercentMax: s.cpuPercentMax,
    rssBytesMax: s.rssBytesMax,
  };
}
