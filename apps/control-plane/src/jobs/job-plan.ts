// The pure decisions of sharded batch jobs: how a dataset is cut into shards, what to do with a
// delivered shard or an arriving result, when a job is complete, and throughput. No IO here:
// the broker (job-broker.ts) and the service (job-service.ts) act on what these return.
import type { JobThroughputView } from "@edgefleet/protocol";

export interface ShardSpec {
  index: number;
  /** Index of the shard's first input in the dataset. */
  start: number;
  count: number;
}

/** Consecutive shards of `shardSize` inputs; the last one holds the remainder. */
export function planShards(samples: number, shardSize: number): ShardSpec[] {
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError("samples must be >= 1");
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new RangeError("shardSize must be >= 1");
  const shards: ShardSpec[] = [];
  for (let start = 0, index = 0; start < samples; start += shardSize, index++) {
    shards.push({ index, start, count: Math.min(shardSize, samples - start) });
  }
  return shards;
}

/** Headroom for the reply's JSON head (a signed manifest) under NATS max_payload. */
export const SHARD_HEAD_ROOM_BYTES = 64 * 1024;

/** The largest shard whose float32 inputs fit one message of `maxPayload` bytes. */
export function maxShardSize(sampleDims: readonly number[], maxPayload: number): number {
  const sampleBytes = sampleDims.reduce((a, b) => a * b, 1) * 4;
  return Math.max(0, Math.floor((maxPayload - SHARD_HEAD_ROOM_BYTES) / sampleBytes));
}

/**
 * Whether a device may fetch its next shard while it runs this one: only while more shards are
 * queued than there are members, so near the end a slow device does not sit on a second shard
 * that a faster one would finish sooner.
 */
export function allowPrefetch(enabled: boolean, queued: number, members: number): boolean {
  return enabled && queued > members;
}

export type ShardState = "pending" | "done" | "parked";

export type DeliveryDecision =
  /** Hand it to the asking device. */
  | { action: "serve" }
  /** Already settled (its ack was lost, e.g. a control-plane restart): remove it from the queue. */
  | { action: "drop" }
  /** Delivered `maxAttempts` times without a result (devices lost holding it): park it. */
  | { action: "park"; error: string };

/**
 * A shard the work queue delivered. JetStream counts deliveries; the consumer allows one more
 * than `maxAttempts`, so the delivery past the last attempt reaches here and is parked instead of
 * sitting in the queue for ever.
 */
export function decideDelivery(
  state: ShardState,
  delivery: number,
  maxAttempts: number,
  lastError: string | null,
): DeliveryDecision {
  if (state !== "pending") return { action: "drop" };
  if (delivery > maxAttempts) {
    const why = lastError ?? "no result came back (the devices holding it were lost)";
    return { action: "park", error: `gave up after ${maxAttempts} attempts: ${why}` };
  }
  return { action: "serve" };
}

export type ResultDecision =
  /** The first result of the shard: keep it, ack the work-queue message. */
  | { action: "store" }
  /** The shard was already settled: ignore the result, count it. */
  | { action: "duplicate" }
  /** A failure with attempts left: let the work queue deliver it again (to any device). */
  | { action: "retry" }
  /** A failure on the last attempt: park the shard with its error, terminate the message. */
  | { action: "park"; error: string }
  /** The job was cancelled before this result came: ignore it, count it. */
  | { action: "late" };

export type JobLifecycleState = "running" | "completed" | "cancelled";

export function decideResult(
  state: ShardState,
  result: { ok: true } | { ok: false; error: string },
  attemptsSoFar: number,
  maxAttempts: number,
  jobState: JobLifecycleState = "running",
): ResultDecision {
  if (jobState === "cancelled") return { action: "late" };
  if (state !== "pending") return { action: "duplicate" };
  if (result.ok) return { action: "store" };
  const attempts = attemptsSoFar + 1;
  if (attempts >= maxAttempts) {
    return { action: "park", error: `failed ${attempts} times; last: ${result.error}` };
  }
  return { action: "retry" };
}

export interface ShardCounts {
  pending: number;
  done: number;
  parked: number;
}

/** Why a job cannot be cancelled (only a running one can), or null when it can. */
export function cancelRefusal(state: string): string | null {
  if (state === "running") return null;
  if (state === "completed") return "the job is completed: there is nothing left to cancel";
  if (state === "cancelled") return "the job is already cancelled";
  return `the job is ${state}`;
}

export function isComplete(c: ShardCounts): boolean {
  return c.pending === 0;
}

export interface DoneShard {
  deviceId: string;
  deviceClass: string;
  count: number;
  runMs: number;
}

/** Samples per second of model time, per device and per class (heaviest first). */
export function throughput(shards: readonly DoneShard[]): {
  perDevice: JobThroughputView[];
  perClass: JobThroughputView[];
} {
  const fold = (key: (s: DoneShard) => string) => {
    const acc = new Map<string, { shards: number; samples: number; ms: number }>();
    for (const s of shards) {
      const k = key(s);
      const a = acc.get(k) ?? { shards: 0, samples: 0, ms: 0 };
      a.shards++;
      a.samples += s.count;
      a.ms += s.runMs;
      acc.set(k, a);
    }
    return [...acc.entries()]
      .map(([k, a]) => ({
        key: k,
        shards: a.shards,
        samples: a.samples,
        samplesPerSecond: a.ms > 0 ? (a.samples * 1000) / a.ms : 0,
      }))
      .sort((x, y) => y.samples - x.samples || x.key.localeCompare(y.key));
  };
  // A class's devices run side by side: its rate is the sum of its devices' rates.
  const perDevice = fold((s) => s.deviceId);
  const classOf = new Map(shards.map((s) => [s.deviceId, s.deviceClass]));
  const perClass = new Map<string, JobThroughputView>();
  for (const d of perDevice) {
    const k = classOf.get(d.key) || "real";
    const c = perClass.get(k) ?? { key: k, shards: 0, samples: 0, samplesPerSecond: 0 };
    c.shards += d.shards;
    c.samples += d.samples;
    c.samplesPerSecond += d.samplesPerSecond;
    perClass.set(k, c);
  }
  return {
    perDevice,
    perClass: [...perClass.values()].sort((x, y) => y.samples - x.samples),
  };
}

/** Wall-clock throughput: samples done over the seconds since the job started. */
export function wallThroughput(samplesDone: number, startedAt: Date, until: Date): number {
  const s = (until.getTime() - startedAt.getTime()) / 1000;
  return s > 0 ? samplesDone / s : 0;
}

/** Index of the largest score in each row of `scores` (count x classes). */
export function argmaxRows(scores: ArrayLike<number>, classes: number): number[] {
  const rows = scores.length / classes;
  const out: number[] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (scores[r * classes + c] > scores[r * classes + best]) best = c;
    }
    out[r] = best;
  }
  return out;
}

/** Predictions matching their labels. */
export function countCorrect(argmax: readonly number[], labels: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < argmax.length; i++) if (argmax[i] === labels[i]) n++;
  return n;
}
