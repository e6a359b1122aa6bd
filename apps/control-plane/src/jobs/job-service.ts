// Sharded batch jobs as every transport sees them (REST, gRPC WatchJob, WebSocket, CLI): create
// (validate everything, then write the job and its shards, then queue the shards and tell the
// devices), list, get, results, watch; and the two decisions the broker asks for while the job
// runs: what to do with a delivered shard, and how to fold an arriving result.
import type { Job, Repos } from "@edgefleet/db";
import {
  type JobModel,
  type JobResultRowView,
  type JobResultsView,
  type JobView,
  type ShardResult,
  sha256HexSchema,
} from "@edgefleet/protocol";
import { z } from "zod";
import {
  InvalidArgumentError,
  NotFoundError,
  ServiceError,
  StateConflictError,
  UnavailableError,
} from "../errors";
import type { FleetEvents } from "../fleet-events";
import type { AssignmentService } from "../services/assignment-service";
import { type Principal, requireRole } from "../services/auth-service";
import type { ArtifactStore } from "../services/dispatch-ports";
import { selectorSchema } from "../services/plan-service";
import { parseInput } from "../services/validation";
import {
  type Dataset,
  DatasetFormatError,
  mnistDataset,
  takeSamples,
  tensorDataset,
} from "./datasets";
import {
  argmaxRows,
  cancelRefusal,
  countCorrect,
  type DeliveryDecision,
  decideDelivery,
  decideResult,
  isComplete,
  type JobLifecycleState,
  maxShardSize,
  planShards,
  type ResultDecision,
  type ShardSpec,
  throughput,
  wallThroughput,
} from "./job-plan";

export const createJobSchema = z.object({
  /** Default: what runs on what, e.g. "mnist-mlp int8-static on mnist". */
  name: z.string().min(1).max(100).optional(),
  /** A variant id, or "assigned": each device runs the variant it is assigned. */
  variantId: z.union([
    z.literal("assigned"),
    z.string().uuid('must be a variant id or "assigned"'),
  ]),
  dataset: z.union([
    z.literal("mnist"),
    z.object({
      digest: sha256HexSchema,
      sampleDims: z.array(z.number().int().positive()).min(1).max(8),
    }),
  ]),
  /** Only the first `limit` inputs of the dataset. */
  limit: z.number().int().positive().optional(),
  shardSize: z.number().int().positive("must be at least 1"),
  selector: selectorSchema.default({}),
  /** How long a device may hold a shard before it is delivered to another. */
  ackWaitMs: z.number().int().min(500).max(3_600_000).default(30_000),
  /** Attempts (failed results or lost deliveries) before a shard is parked. */
  maxAttempts: z.number().int().min(1).max(20).default(3),
  /** Devices fetch their next shard while running one (hides the round trip). */
  prefetch: z.boolean().default(true),
});

export const cancelJobSchema = z.object({
  reason: z.string().trim().min(1).max(500).optional(),
});

const resultsQuerySchema = z.object({
  from: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

/** What the service needs of the work queue (the NATS adapter is job-broker.ts). */
export interface JobQueue {
  /** Largest message the server takes. */
  maxPayload(): number;
  /** The job's durable pull consumer on the JOBS stream. */
  open(job: { id: string; ackWaitMs: number; maxAttempts: number }): Promise<void>;
  publishShards(jobId: string, shards: Array<ShardSpec & { inputs: Uint8Array }>): Promise<void>;
  /** Removes the consumer and whatever is left of the job's shards. */
  close(jobId: string): Promise<void>;
  notify(jobId: string, deviceIds: readonly string[]): void;
  inFlight(jobId: string): Array<{ index: number; deviceId: string; delivery: number }>;
}

interface JobContext {
  job: Job;
  model: JobModel;
  /** deviceId -> class ("" for a real device). */
  members: Map<string, string>;
  labels: Uint8Array | null;
}

export class JobService {
  private readonly contexts = new Map<string, Promise<JobContext | null>>();
  private readonly throttled = new Map<string, NodeJS.Timeout>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: {
      repos: Pick<Repos, "jobs" | "rollouts" | "audit" | "dispatch">;
      assignments: Pick<AssignmentService, "signedAssignment">;
      artifacts: Pick<ArtifactStore, "get">;
      queue: JobQueue;
      events: FleetEvents;
      /** Least time between two `job.updated` events of one job (default 500 ms). */
      eventEveryMs?: number;
    },
  ) {
    // Cancelled on another replica: members asking here hear "done" too, results are late.
    this.unsubscribe = deps.events.subscribe((e) => {
      if (e.type !== "job.updated" || e.data?.state !== "cancelled" || !e.jobId) return;
      void this.contexts.get(e.jobId)?.then(
        (c) => {
          if (c && c.job.state === "running")
            c.job = { ...c.job, state: "cancelled", completedAt: new Date() };
        },
        () => {},
      );
    });
  }

  async create(principal: Principal, body: unknown): Promise<JobView> {
    requireRole(principal, "operator");
    const input = parseInput(createJobSchema, body);
    const model = await this.model(input.variantId);
    const dataset = takeSamples(await this.dataset(input.dataset), input.limit);
    if (model.mode === "variant") {
      const want = model.manifest.input.sampleDims;
      const same =
        want.length === dataset.sampleDims.length &&
        want.every((d, i) => d === dataset.sampleDims[i]);
      if (!same) {
        throw new InvalidArgumentError(
          "dataset.sampleDims",
          `[${dataset.sampleDims.join(", ")}] is not the variant's input [${want.join(", ")}]`,
        );
      }
    }
    const most = maxShardSize(dataset.sampleDims, this.deps.queue.maxPayload());
    if (input.shardSize > most) {
      throw new InvalidArgumentError(
        "shardSize",
        `${input.shardSize} inputs do not fit one NATS message; at most ${most} of this size`,
      );
    }
    const selected = await this.deps.repos.rollouts.selectDevices(input.selector);
    if (selected.length === 0) throw new InvalidArgumentError("selector", "selects no device");
    const devices = model.mode === "assigned" ? await this.assigned(selected) : selected;
    const shards = planShards(dataset.samples, input.shardSize);
    const actor = `apitoken:${principal.tokenId}`;
    const job = await this.deps.repos.jobs.create(
      {
        name: input.name ?? defaultJobName(model, input.dataset),
        variantId: model.mode === "variant" ? model.manifest.variant.id : null,
        dataset:
          input.dataset === "mnist"
            ? { kind: "mnist" }
            : { kind: "tensors", digest: input.dataset.digest },
        sampleDims: dataset.sampleDims,
        samples: dataset.samples,
        shardSize: input.shardSize,
        selector: input.selector,
        deviceIds: devices.map((d) => d.id),
        ackWaitMs: input.ackWaitMs,
        maxAttempts: input.maxAttempts,
        prefetch: input.prefetch,
        createdBy: actor,
      },
      shards,
    );
    try {
      await this.deps.queue.open(job);
      const size = dataset.sampleDims.reduce((a, b) => a * b, 1);
      await this.deps.queue.publishShards(
        job.id,
        shards.map((s) => {
          const view = dataset.inputs.subarray(s.start * size, (s.start + s.count) * size);
          return { ...s, inputs: new Uint8Array(view.buffer, view.byteOffset, view.byteLength) };
        }),
      );
    } catch (cause) {
      // Nothing half-made stays behind: no rows, no consumer, no shards.
      await this.deps.queue.close(job.id).catch(() => {});
      await this.deps.repos.jobs.delete(job.id);
      throw new UnavailableError("the work queue could not take the job's shards", { cause });
    }
    this.contexts.set(
      job.id,
      Promise.resolve({
        job,
        model,
        members: new Map(devices.map((d) => [d.id, d.deviceClass ?? ""])),
        labels: dataset.labels,
      }),
    );
    await this.deps.repos.audit.append({
      actor,
      action: "job.created",
      subjectType: "job",
      subjectId: job.id,
      data: { devices: devices.length, shards: shards.length, samples: dataset.samples },
    });
    this.deps.queue.notify(job.id, job.deviceIds);
    const view = await this.get(job.id);
    this.deps.events.publish(this.event(view));
    return view;
  }

  /**
   * Cancels a running job: its state becomes `cancelled` (who, why), its consumer and queued
   * shards leave the JOBS stream, members asking for work are told it is done, results arriving
   * later are ignored (counted). A completed or cancelled job is a 409 naming its state.
   */
  async cancel(principal: Principal, id: string, body: unknown): Promise<JobView> {
    requireRole(principal, "operator");
    const input = parseInput(cancelJobSchema, body ?? {});
    const job = await this.deps.repos.jobs.find(id);
    if (!job) throw new NotFoundError(`job ${id} not found`);
    const actor = `apitoken:${principal.tokenId}`;
    const reason = input.reason ?? null;
    const refused = cancelRefusal(job.state);
    if (refused || !(await this.deps.repos.jobs.markCancelled(id, actor, reason))) {
      const now = refused ? job.state : ((await this.deps.repos.jobs.find(id))?.state ?? "gone");
      throw new StateConflictError(`job ${id}: ${refused ?? cancelRefusal(now)}`);
    }
    const ctx = this.contexts.get(id);
    const c = ctx ? await ctx : null;
    if (c) c.job = { ...c.job, state: "cancelled", completedAt: new Date() };
    await this.deps.queue.close(id).catch(() => {});
    clearTimeout(this.throttled.get(id));
    this.throttled.delete(id);
    await this.deps.repos.audit.append({
      actor,
      action: "job.cancelled",
      subjectType: "job",
      subjectId: id,
      data: { reason },
    });
    // The devices ask again and hear "done" at once rather than at their next wait.
    this.deps.queue.notify(id, job.deviceIds);
    const view = await this.get(id);
    this.deps.events.publish(this.event(view));
    return view;
  }

  /** The job's state as stored (another replica may have completed or cancelled it). */
  async storedState(jobId: string): Promise<string | null> {
    return (await this.deps.repos.jobs.find(jobId))?.state ?? null;
  }

  async list(): Promise<{ jobs: JobView[] }> {
    const rows = await this.deps.repos.jobs.list(50);
    return { jobs: await Promise.all(rows.map((j) => this.view(j))) };
  }

  async get(id: string): Promise<JobView> {
    const job = await this.deps.repos.jobs.find(id);
    if (!job) throw new NotFoundError(`job ${id} not found`);
    return this.view(job);
  }

  /** Inputs in dataset order, from input `from`; shards not done yet are skipped and named. */
  async results(id: string, query: unknown): Promise<JobResultsView> {
    const q = parseInput(resultsQuerySchema, query);
    const ctx = await this.context(id);
    if (!ctx) throw new NotFoundError(`job ${id} not found`);
    const { job, labels } = ctx;
    const rows: JobResultRowView[] = [];
    const missingShards: number[] = [];
    let next: number | null = null;
    let from = Math.min(q.from, job.samples);
    while (from < job.samples && rows.length < q.limit) {
      const shards = await this.deps.repos.jobs.doneShards(
        id,
        Math.floor(from / job.shardSize),
        64,
      );
      if (shards.length === 0) break;
      for (const s of shards) {
        if (rows.length >= q.limit) break;
        if (s.state !== "done" || !s.scores || !s.classes) {
          missingShards.push(s.index);
          from = s.start + s.count;
          continue;
        }
        const scores = new Float32Array(new Uint8Array(s.scores).buffer);
        for (let i = Math.max(from, s.start) - s.start; i < s.count && rows.length < q.limit; i++) {
          const input = s.start + i;
          rows.push({
            input,
            shard: s.index,
            argmax: s.argmax[i],
            scores: Array.from(scores.subarray(i * s.classes, (i + 1) * s.classes)),
            label: labels ? labels[input] : null,
          });
          from = input + 1;
        }
      }
    }
    if (from < job.samples) next = from;
    return { jobId: id, rows, next, missingShards };
  }

  /** Every `job.updated` view of this job until the returned function is called. */
  watch(id: string, listener: (view: JobView) => void): () => void {
    return this.deps.events.subscribe((e) => {
      if (e.type === "job.updated" && e.jobId === id && e.data)
        listener(e.data as unknown as JobView);
    });
  }

  /** Whether `deviceId` may pull shards of `jobId`, and the job's model for the reply. */
  async membership(
    jobId: string,
    deviceId: string,
  ): Promise<
    | { member: false; reason: string }
    | { member: true; done: boolean; cancelled: boolean; job: Job; model: JobModel }
  > {
    const ctx = await this.context(jobId);
    if (!ctx) return { member: false, reason: "no such job" };
    if (!ctx.members.has(deviceId)) return { member: false, reason: "not a member of this job" };
    return {
      member: true,
      done: ctx.job.state !== "running",
      cancelled: ctx.job.state === "cancelled",
      job: ctx.job,
      model: ctx.model,
    };
  }

  /** The work queue delivered shard `index` (for the `delivery`-th time) for `deviceId`. */
  async onDelivery(
    jobId: string,
    index: number,
    delivery: number,
    deviceId: string,
  ): Promise<DeliveryDecision> {
    const ctx = await this.context(jobId);
    const shard = await this.deps.repos.jobs.shard(jobId, index);
    if (!ctx || !shard) return { action: "drop" };
    // Delivered while a cancel was closing the queue: nobody runs it.
    if (ctx.job.state === "cancelled") return { action: "drop" };
    const d = decideDelivery(shard.state as "pending", delivery, ctx.job.maxAttempts, shard.error);
    if (d.action === "park") await this.park(jobId, index, d.error);
    if (d.action === "serve") await this.deps.repos.jobs.addHolder(jobId, index, deviceId);
    return d;
  }

  /** Running jobs and their devices (the broker reminds them). */
  async runningJobs(): Promise<Array<{ id: string; deviceIds: string[] }>> {
    return (await this.deps.repos.jobs.running()).map((j) => ({
      id: j.id,
      deviceIds: j.deviceIds,
    }));
  }

  /** The pending shards that are all held elsewhere, or none left: is the job over? */
  async pendingShards(jobId: string): Promise<number> {
    return (await this.deps.repos.jobs.counts(jobId)).pending;
  }

  /** A result a device published as itself (the subject names it). */
  async foldResult(deviceId: string, result: ShardResult): Promise<ResultDecision | null> {
    const ctx = await this.context(result.jobId);
    if (!ctx?.members.has(deviceId)) return null;
    const shard = await this.deps.repos.jobs.shard(result.jobId, result.index);
    // A member may only answer for shards it was handed (not forge another's).
    if (!shard?.holders.includes(deviceId)) return null;
    // Read again when cached as running: another replica may have cancelled it.
    const jobState = (
      ctx.job.state === "running"
        ? ((await this.storedState(result.jobId)) ?? "running")
        : ctx.job.state
    ) as JobLifecycleState;
    if (jobState !== ctx.job.state) ctx.job = { ...ctx.job, state: jobState };
    const r = result.ok ? { ok: true as const } : { ok: false as const, error: result.error };
    let decision = decideResult(
      shard.state as "pending",
      r,
      shard.attempts,
      ctx.job.maxAttempts,
      jobState,
    );
    if (decision.action === "late") {
      await this.deps.repos.jobs.addLateResult(result.jobId);
      return decision;
    }
    if (result.ok && decision.action === "store") {
      const problem = checkOutputs(result, shard.count);
      if (problem) {
        decision = decideResult(
          "pending",
          { ok: false, error: problem },
          shard.attempts,
          ctx.job.maxAttempts,
        );
      }
    }
    const { jobs } = this.deps.repos;
    switch (decision.action) {
      case "store": {
        const ok = result as Extract<ShardResult, { ok: true }>;
        const labels = ctx.labels?.subarray(shard.start, shard.start + shard.count);
        const stored = await jobs.completeShard(result.jobId, result.index, {
          deviceId,
          deviceClass: ctx.members.get(deviceId) || null,
          variantId: ok.variantId,
          runMs: ok.runMs,
          classes: ok.classes,
          argmax: ok.argmax,
          scores: new Uint8Array(Float32Array.from(ok.scores).buffer),
          correct: labels ? countCorrect(ok.argmax, labels) : null,
        });
        // Lost a race with another replica's fold of the same shard.
        if (!stored) {
          await jobs.addDuplicate(result.jobId);
          decision = { action: "duplicate" };
        }
        break;
      }
      case "duplicate":
        await jobs.addDuplicate(result.jobId);
        break;
      case "retry":
        await jobs.recordFailure(result.jobId, result.index, {
          deviceId,
          error: result.ok ? "outputs refused" : result.error,
        });
        break;
      case "park":
        await jobs.recordFailure(result.jobId, result.index, { deviceId, error: decision.error });
        await jobs.parkShard(result.jobId, result.index, decision.error);
        break;
    }
    await this.settled(result.jobId);
    return decision;
  }

  private async park(jobId: string, index: number, error: string) {
    await this.deps.repos.jobs.parkShard(jobId, index, error);
    await this.settled(jobId);
  }

  /** After a shard changed: complete the job when nothing is pending, and tell watchers. */
  private async settled(jobId: string): Promise<void> {
    const counts = await this.deps.repos.jobs.counts(jobId);
    if (isComplete(counts) && (await this.deps.repos.jobs.markCompleted(jobId))) {
      const ctx = await this.context(jobId);
      if (ctx) ctx.job = { ...ctx.job, state: "completed", completedAt: new Date() };
      await this.deps.queue.close(jobId).catch(() => {});
      clearTimeout(this.throttled.get(jobId));
      this.throttled.delete(jobId);
      this.deps.events.publish(this.event(await this.get(jobId)));
      return;
    }
    if (this.throttled.has(jobId)) return;
    this.throttled.set(
      jobId,
      setTimeout(() => {
        this.throttled.delete(jobId);
        this.get(jobId).then(
          (view) => this.deps.events.publish(this.event(view)),
          () => {},
        );
      }, this.deps.eventEveryMs ?? 500),
    );
  }

  stop(): void {
    this.unsubscribe();
    for (const t of this.throttled.values()) clearTimeout(t);
    this.throttled.clear();
  }

  private event(view: JobView) {
    return {
      type: "job.updated" as const,
      deviceId: "",
      jobId: view.id,
      at: new Date().toISOString(),
      data: view as unknown as Record<string, unknown>,
    };
  }

  private async view(job: Job): Promise<JobView> {
    const [counts, shards] = await Promise.all([
      this.deps.repos.jobs.counts(job.id),
      this.deps.repos.jobs.summaries(job.id),
    ]);
    const done = shards
      .filter((s) => s.state === "done" && s.deviceId && s.runMs !== null)
      .map((s) => ({
        deviceId: s.deviceId!,
        deviceClass: s.deviceClass ?? "",
        count: s.count,
        runMs: s.runMs!,
      }));
    const rates = throughput(done);
    const dataset = job.dataset as { kind: "mnist" } | { kind: "tensors"; digest: string };
    return {
      id: job.id,
      name: job.name,
      state: job.state as JobView["state"],
      model: job.variantId ? { mode: "variant", variantId: job.variantId } : { mode: "assigned" },
      dataset,
      sampleDims: job.sampleDims,
      samples: job.samples,
      shardSize: job.shardSize,
      devices: job.deviceIds.length,
      shards: {
        total: counts.pending + counts.done + counts.parked,
        pending: counts.pending,
        done: counts.done,
        parked: counts.parked,
      },
      duplicates: job.duplicates,
      accuracy: counts.labelled > 0 ? counts.correct / counts.labelled : null,
      samplesPerSecond: wallThroughput(
        counts.samplesDone,
        job.createdAt,
        job.completedAt ?? new Date(),
      ),
      perDevice: rates.perDevice,
      perClass: rates.perClass,
      parked: shards
        .filter((s) => s.state === "parked")
        .map((s) => ({ index: s.index, error: s.error ?? "" })),
      inFlight: this.deps.queue.inFlight(job.id),
      createdAt: job.createdAt.toISOString(),
      completedAt: job.completedAt?.toISOString() ?? null,
      cancelled:
        job.state === "cancelled"
          ? { by: job.cancelledBy ?? "", reason: job.cancelReason ?? null }
          : null,
      lateResults: job.lateResults,
    };
  }

  private context(jobId: string): Promise<JobContext | null> {
    let ctx = this.contexts.get(jobId);
    if (!ctx) {
      ctx = this.loadContext(jobId);
      this.contexts.set(jobId, ctx);
      ctx.then(
        (c) => c || this.contexts.delete(jobId),
        () => this.contexts.delete(jobId),
      );
    }
    return ctx;
  }

  /** A job created by another replica (or before a restart), rebuilt from its row. */
  private async loadContext(jobId: string): Promise<JobContext | null> {
    const job = await this.deps.repos.jobs.find(jobId);
    if (!job) return null;
    const model: JobModel = job.variantId ? await this.model(job.variantId) : { mode: "assigned" };
    const devices = await this.deps.repos.rollouts.selectDevices({ deviceIds: job.deviceIds });
    const dataset = job.dataset as { kind: string };
    return {
      job,
      model,
      members: new Map(devices.map((d) => [d.id, d.deviceClass ?? ""])),
      labels: dataset.kind === "mnist" ? mnistDataset().labels!.subarray(0, job.samples) : null,
    };
  }

  /**
   * With `assigned`, the members are the selected devices that have a variant assigned: a device
   * with nothing to run would only fail (and park) every shard it is handed.
   */
  private async assigned<D extends { id: string }>(selected: D[]): Promise<D[]> {
    const assignments = await this.deps.repos.dispatch.assignmentsOf(selected.map((d) => d.id));
    const members = selected.filter((d) => assignments.get(d.id)?.variantId);
    if (members.length === 0) {
      throw new InvalidArgumentError(
        "variantId",
        `"assigned" runs each device's assigned variant, and none of the ${selected.length} selected device(s) has one`,
      );
    }
    return members;
  }

  private async model(variantId: string): Promise<JobModel> {
    if (variantId === "assigned") return { mode: "assigned" };
    try {
      const a = await this.deps.assignments.signedAssignment(variantId);
      return { mode: "variant", manifest: a.manifest, signature: a.signature };
    } catch (err) {
      if (err instanceof ServiceError) throw new InvalidArgumentError("variantId", err.message);
      throw err;
    }
  }

  private async dataset(d: z.output<typeof createJobSchema>["dataset"]): Promise<Dataset> {
    if (d === "mnist") return mnistDataset();
    const bytes = await this.deps.artifacts.get(d.digest);
    if (!bytes)
      throw new InvalidArgumentError(
        "dataset.digest",
        "no artifact with this sha256 (upload it first)",
      );
    try {
      return tensorDataset(bytes, d.sampleDims);
    } catch (err) {
      if (err instanceof DatasetFormatError)
        throw new InvalidArgumentError("dataset.digest", err.message);
      throw err;
    }
  }
}

/** A result's outputs must cover the shard: one prediction and `classes` scores per input. */
function checkOutputs(r: Extract<ShardResult, { ok: true }>, count: number): string | null {
  if (r.argmax.length !== count)
    return `result has ${r.argmax.length} predictions for ${count} inputs`;
  if (r.scores.length !== count * r.classes)
    return `result has ${r.scores.length} scores, not ${count} x ${r.classes}`;
  const again = argmaxRows(r.scores, r.classes);
  if (again.some((a, i) => a !== r.argmax[i])) return "result's argmax disagrees with its scores";
  return null;
}

/** A job's name when none is given: its model and its dataset. */
function defaultJobName(
  model: JobModel,
  dataset: z.output<typeof createJobSchema>["dataset"],
): string {
  const what =
    model.mode === "variant"
      ? `${model.manifest.model.name} ${model.manifest.variant.name}`
      : "assigned variants";
  const on = dataset === "mnist" ? "mnist" : `tensors ${dataset.digest.slice(0, 12)}`;
  return `${what} on ${on}`;
}
