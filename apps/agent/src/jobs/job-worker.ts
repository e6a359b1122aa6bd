// The device's side of sharded batch jobs. A notice names a job; the worker then asks the control
// plane for shards on its own subject, one at a time and as fast as it finishes them (so faster
// devices take more), runs each with ONNX Runtime and publishes the result as itself. While it
// holds a shard (a prefetched one queued behind the one it runs, or the one it runs) it tells the
// control plane so every quarter of the ack wait, so a slow shard is not handed out twice. It stops
// when the control plane says the job is done, cancelled (or refuses it), and when the agent stops.

import { setTimeout as sleepFor } from "node:timers/promises";
import {
  decodeShardReply,
  encodeJson,
  type ShardReply,
  type ShardResult,
  shardResultMsgId,
  subjects,
} from "@edgefleet/protocol";
import type { Logger } from "pino";
import type { JobModels, JobRunner } from "./job-models";
import { argmaxAndScores } from "./shard-outputs";

export interface JobWorkerDeps {
  deviceId: string;
  /** Core request/reply; rejects on timeout or when disconnected. */
  request(subject: string, timeoutMs: number): Promise<Uint8Array>;
  /** JetStream publish with msgID (dedupe), as this device. */
  publish(subject: string, data: Uint8Array, msgID: string): Promise<void>;
  /** Core publish, fire and forget (the "still working" word); throws when disconnected. */
  signal(subject: string, data: Uint8Array): void;
  models: JobModels;
  log: Logger;
  /** Observes each shard (tests, benchmarks). */
  onShard?(event: { jobId: string; index: number; phase: "start" | "end"; ok?: boolean }): void;
}

type ShardAssignment = Extract<ShardReply, { status: "shard" }>;

interface Holding {
  subject: string;
  word: Uint8Array;
  everyMs: number;
  lastSentAt: number;
  /** After this the device stops vouching for the shard (see `MAX_HOLD_ACK_WAITS`). */
  until: number;
}

/** How often the "working" timer looks at held shards (each is told every quarter of its ack wait). */
const WORKING_TICK_MS = 100;
/** A device vouches for a shard at most this many ack waits: a hung run does not hold it forever. */
export const MAX_HOLD_ACK_WAITS = 20;

export class JobWorker {
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;
  /** How each job this worker pulled from ended, as the control plane said (tests, logs). */
  readonly ended = new Map<string, "done" | "cancelled">();
  /** Cuts short the waits (a simulated class's slowdown, "wait" replies) when the agent stops. */
  private readonly halt = new AbortController();
  /** Shards received and not yet answered, by `<job>:<index>`: told "working" on a timer. */
  private readonly holding = new Map<string, Holding>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly deps: JobWorkerDeps) {}

  /** A notice for `jobId`: start pulling its shards unless already doing so. */
  notice(jobId: string): void {
    if (this.stopped || this.running.has(jobId)) return;
    const loop = this.pull(jobId)
      .catch((err) => this.deps.log.warn({ err: String(err), jobId }, "job worker stopped"))
      .finally(() => {
        this.running.delete(jobId);
        if (this.running.size === 0) void this.deps.models.release();
      });
    this.running.set(jobId, loop);
  }

  get jobs(): string[] {
    return [...this.running.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.halt.abort();
    this.holding.clear();
    clearInterval(this.heartbeat);
    await Promise.allSettled([...this.running.values()]);
    await this.deps.models.release();
  }

  private async pull(jobId: string): Promise<void> {
    const { deviceId, log } = this.deps;
    const subject = subjects.jobNext(deviceId, jobId);
    const ask = (): Promise<ShardReply | Error> =>
      this.deps.request(subject, 10_000).then(decodeShardReply, (err: Error) => err);
    let failures = 0;
    let next: Promise<ShardReply | Error> | undefined;
    while (!this.stopped) {
      const reply = await (next ?? ask());
      next = undefined;
      if (reply instanceof Error) {
        // The next notice (they repeat while the job runs) starts a new loop.
        if (++failures >= 3) throw reply;
        await sleep(500 * failures, this.halt.signal);
        continue;
      }
      failures = 0;
      if (reply.status === "done") {
        this.ended.set(jobId, reply.cancelled ? "cancelled" : "done");
        return log.info({ jobId }, reply.cancelled ? "job cancelled" : "job done");
      }
      if (reply.status === "refused")
        return log.warn({ jobId, reason: reply.reason }, "job refused");
      if (reply.status === "wait") {
        await sleep(reply.retryMs, this.halt.signal);
        continue;
      }
      this.hold(reply);
      // The round trip for the next shard overlaps this one's run, when the control plane allows.
      // The prefetched shard is held (and said to be worked on) from its arrival.
      if (reply.prefetch) {
        next = ask().then((r) => {
          if (!(r instanceof Error) && r.status === "shard") this.hold(r);
          return r;
        });
      }
      try {
        const result = await this.runShard(reply);
        if (this.stopped) return;
        await this.deps.publish(
          subjects.jobResults(deviceId, jobId),
          encodeJson(result),
          shardResultMsgId(deviceId, jobId, reply.index, reply.delivery),
        );
      } finally {
        this.release(reply);
      }
    }
  }

  private hold(shard: ShardAssignment): void {
    if (!shard.ackWaitMs) return; // A control plane that does not listen for the word.
    this.holding.set(`${shard.jobId}:${shard.index}`, {
      subject: subjects.jobWorking(this.deps.deviceId, shard.jobId),
      word: encodeJson({ jobId: shard.jobId, index: shard.index, delivery: shard.delivery }),
      everyMs: Math.max(100, Math.floor(shard.ackWaitMs / 4)),
      lastSentAt: 0, // at the next tick: the ack wait started when the reply left
      until: Date.now() + MAX_HOLD_ACK_WAITS * shard.ackWaitMs,
    });
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => this.sayWorking(), WORKING_TICK_MS);
      this.heartbeat.unref();
    }
  }

  private release(shard: ShardAssignment): void {
    this.holding.delete(`${shard.jobId}:${shard.index}`);
    if (this.holding.size === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  private sayWorking(): void {
    const now = Date.now();
    for (const h of this.holding.values()) {
      // A shard held this long is stuck (a hung run): let the control plane move it on.
      if (now > h.until || now - h.lastSentAt < h.everyMs) continue;
      h.lastSentAt = now;
      try {
        this.deps.signal(h.subject, h.word);
      } catch {
        // Disconnected: the ack wait runs out and the shard goes to another device, as it should.
      }
    }
  }

  private async runShard(shard: ShardAssignment): Promise<ShardResult> {
    const { jobId, index } = shard;
    this.deps.onShard?.({ jobId, index, phase: "start" });
    let runner: JobRunner | undefined;
    let result: ShardResult;
    try {
      runner = await this.deps.models.acquire(shard.model);
      result = await runOn(runner, shard, this.halt.signal);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.deps.log.warn({ jobId, index, err: error }, "shard failed");
      result = {
        ok: false,
        jobId,
        index,
        variantId: runner?.variantId ?? null,
        error: error.slice(0, 2000),
      };
    }
    this.deps.onShard?.({ jobId, index, phase: "end", ok: result.ok });
    return result;
  }
}

async function runOn(
  runner: JobRunner,
  shard: ShardAssignment,
  signal: AbortSignal,
): Promise<ShardResult> {
  const { model } = runner;
  const dims = model.sampleDims;
  const same =
    dims.length === shard.sampleDims.length && dims.every((d, i) => d === shard.sampleDims[i]);
  if (!same) {
    throw new Error(
      `the shard's inputs are [${shard.sampleDims.join(", ")}] per sample; the model takes [${dims.join(", ")}]`,
    );
  }
  const inputs = shard.inputs!;
  const t0 = performance.now();
  const first = model.outputNames[0];
  let data: Float32Array;
  if (model.dynamicBatch) {
    data = (await model.run(inputs, shard.count))[first].data;
  } else if (model.fixedBatch === 1) {
    // A static batch of 1: one run per input.
    const size = inputs.length / shard.count;
    const rows: Float32Array[] = [];
    for (let i = 0; i < shard.count; i++) {
      rows.push((await model.run(inputs.subarray(i * size, (i + 1) * size), 1))[first].data);
    }
    data = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
    let at = 0;
    for (const r of rows) {
      data.set(r, at);
      at += r.length;
    }
  } else {
    throw new Error(
      `the model's batch axis is fixed at ${model.fixedBatch}; shards need 1 or dynamic`,
    );
  }
  const measured = performance.now() - t0;
  // A simulated device class is that much slower: wait the difference, as local serving does.
  if (runner.slowdown > 1) await sleep((runner.slowdown - 1) * measured, signal);
  const { classes, argmax, scores } = argmaxAndScores(data, shard.count);
  return {
    ok: true,
    jobId: shard.jobId,
    index: shard.index,
    variantId: runner.variantId,
    runMs: performance.now() - t0,
    classes,
    argmax,
    scores,
  };
}

/** Resolves after `ms`, or at once when the worker stops (callers check `stopped`). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return sleepFor(ms, undefined, { signal }).catch(() => {});
}
