// Sharded batch jobs and their shards. Settling a shard (done or parked) is one guarded UPDATE
// on `state = 'pending'`: of two results racing for a shard exactly one wins, whatever replica
// folds them.
import { isUuid } from "./client";
import type { Job, JobShard, Prisma, PrismaClient } from "./generated/prisma/client";

export type { Job, JobShard };

export interface NewJob {
  name: string;
  variantId: string | null;
  dataset: Prisma.InputJsonValue;
  sampleDims: number[];
  samples: number;
  shardSize: number;
  selector: Prisma.InputJsonValue;
  deviceIds: string[];
  ackWaitMs: number;
  maxAttempts: number;
  prefetch: boolean;
  createdBy: string;
}

export interface ShardOutcome {
  deviceId: string;
  deviceClass: string | null;
  variantId: string;
  runMs: number;
  classes: number;
  argmax: number[];
  scores: Uint8Array;
  correct: number | null;
}

export interface JobShardCounts {
  pending: number;
  done: number;
  parked: number;
  samplesDone: number;
  correct: number;
  labelled: number;
}

export type ShardSummary = Pick<
  JobShard,
  "index" | "state" | "deviceId" | "deviceClass" | "count" | "runMs" | "error"
>;

export interface JobRepo {
  create(job: NewJob, shards: { index: number; start: number; count: number }[]): Promise<Job>;
  /** Removes a job (and its shards) whose creation could not finish. */
  delete(id: string): Promise<void>;
  find(id: string): Promise<Job | null>;
  list(limit?: number): Promise<Job[]>;
  running(): Promise<Job[]>;
  shard(jobId: string, index: number): Promise<JobShard | null>;
  /** true when this result settled the shard; false when it was already settled. */
  completeShard(jobId: string, index: number, outcome: ShardOutcome): Promise<boolean>;
  /** Counts a failed attempt; returns the attempts so far, or null if the shard is settled. */
  recordFailure(
    jobId: string,
    index: number,
    failure: { deviceId: string | null; error: string },
  ): Promise<number | null>;
  /** Records that `deviceId` was handed the shard (its result may then be taken). */
  addHolder(jobId: string, index: number, deviceId: string): Promise<void>;
  /** true when this call parked it. */
  parkShard(jobId: string, index: number, error: string): Promise<boolean>;
  addDuplicate(jobId: string): Promise<void>;
  counts(jobId: string): Promise<JobShardCounts>;
  summaries(jobId: string): Promise<ShardSummary[]>;
  /** Done shards in order from shard `fromShard`, at most `limit`. */
  doneShards(jobId: string, fromShard: number, limit: number): Promise<JobShard[]>;
  /** true when this call completed it. */
  markCompleted(jobId: string): Promise<boolean>;
  /** true when this call cancelled it (it was running). */
  markCancelled(jobId: string, by: string, reason: string | null): Promise<boolean>;
  /** Counts a result that arrived after the job was cancelled. */
  addLateResult(jobId: string): Promise<void>;
}

export class PrismaJobRepo implements JobRepo {
  constructor(private readonly db: PrismaClient) {}

  create(job: NewJob, shards: { index: number; start: number; count: number }[]): Promise<Job> {
    return this.db.$transaction(async (tx) => {
      const row = await tx.job.create({ data: job });
      await tx.jobShard.createMany({ data: shards.map((s) => ({ ...s, jobId: row.id })) });
      return row;
    });
  }

  async delete(id: string): Promise<void> {
    await this.db.job.deleteMany({ where: { id } });
  }

  find(id: string): Promise<Job | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.db.job.findUnique({ where: { id } });
  }

  list(limit = 100): Promise<Job[]> {
    return this.db.job.findMany({ orderBy: { createdAt: "desc" }, take: limit });
  }

  running(): Promise<Job[]> {
    return this.db.job.findMany({ where: { state: "running" } });
  }

  shard(jobId: string, index: number): Promise<JobShard | null> {
    return this.db.jobShard.findUnique({ where: { jobId_index: { jobId, index } } });
  }

  async completeShard(jobId: string, index: number, o: ShardOutcome): Promise<boolean> {
    const { count } = await this.db.jobShard.updateMany({
      where: { jobId, index, state: "pending" },
      data: {
        state: "done",
        deviceId: o.deviceId,
        deviceClass: o.deviceClass,
        variantId: o.variantId,
        runMs: o.runMs,
        classes: o.classes,
        argmax: o.argmax,
        scores: new Uint8Array(o.scores),
        correct: o.correct,
        error: null,
        doneAt: new Date(),
      },
    });
    return count === 1;
  }

  async recordFailure(
    jobId: string,
    index: number,
    f: { deviceId: string | null; error: string },
  ): Promise<number | null> {
    const rows = await this.db.jobShard.updateManyAndReturn({
      where: { jobId, index, state: "pending" },
      data: { attempts: { increment: 1 }, error: f.error, deviceId: f.deviceId },
      select: { attempts: true },
    });
    return rows[0]?.attempts ?? null;
  }

  async addHolder(jobId: string, index: number, deviceId: string): Promise<void> {
    await this.db.jobShard.updateMany({
      where: { jobId, index, NOT: { holders: { has: deviceId } } },
      data: { holders: { push: deviceId } },
    });
  }

  async parkShard(jobId: string, index: number, error: string): Promise<boolean> {
    const { count } = await this.db.jobShard.updateMany({
      where: { jobId, index, state: "pending" },
      data: { state: "parked", error, doneAt: new Date() },
    });
    return count === 1;
  }

  async addDuplicate(jobId: string): Promise<void> {
    await this.db.job.update({ where: { id: jobId }, data: { duplicates: { increment: 1 } } });
  }

  async counts(jobId: string): Promise<JobShardCounts> {
    const groups = await this.db.jobShard.groupBy({
      by: ["state"],
      where: { jobId },
      _count: { _all: true },
      _sum: { count: true, correct: true },
    });
    const out: JobShardCounts = {
      pending: 0,
      done: 0,
      parked: 0,
      samplesDone: 0,
      correct: 0,
      labelled: 0,
    };
    for (const g of groups) {
      const state = g.state as "pending" | "done" | "parked";
      out[state] = g._count._all;
      if (state === "done") {
        out.samplesDone = g._sum.count ?? 0;
        out.correct = g._sum.correct ?? 0;
      }
    }
    if (out.done > 0) {
      const labelled = await this.db.jobShard.aggregate({
        where: { jobId, state: "done", correct: { not: null } },
        _sum: { count: true },
      });
      out.labelled = labelled._sum.count ?? 0;
    }
    return out;
  }

  summaries(jobId: string): Promise<ShardSummary[]> {
    return this.db.jobShard.findMany({
      where: { jobId },
      orderBy: { index: "asc" },
      select: {
        index: true,
        state: true,
        deviceId: true,
        deviceClass: true,
        count: true,
        runMs: true,
        error: true,
      },
    });
  }

  doneShards(jobId: string, fromShard: number, limit: number): Promise<JobShard[]> {
    return this.db.jobShard.findMany({
      where: { jobId, index: { gte: fromShard } },
      orderBy: { index: "asc" },
      take: limit,
    });
  }

  async markCompleted(jobId: string): Promise<boolean> {
    const { count } = await this.db.job.updateMany({
      where: { id: jobId, state: "running" },
      data: { state: "completed", completedAt: new Date() },
    });
    return count === 1;
  }

  async markCancelled(jobId: string, by: string, reason: string | null): Promise<boolean> {
    const { count } = await this.db.job.updateMany({
      where: { id: jobId, state: "running" },
      data: { state: "cancelled", completedAt: new Date(), cancelledBy: by, cancelReason: reason },
    });
    return count === 1;
  }

  async addLateResult(jobId: string): Promise<void> {
    await this.db.job.updateMany({ where: { id: jobId }, data: { lateResults: { increment: 1 } } });
  }
}
