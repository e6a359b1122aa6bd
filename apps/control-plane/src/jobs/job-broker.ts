// The NATS side of sharded batch jobs. Devices have no JetStream consumer rights (their JWT
// template cannot say "the jobs this device is in"), so the control plane brokers the work queue:
// - each job has a durable pull consumer on the JOBS work-queue stream (ack_wait from the job,
//   max_deliver one more than its attempts, so the delivery past the last attempt is parked here);
// - a device asks on its own subject `ef.v1.dev.<id>.jobs.<job>.next`; the broker checks that it
//   belongs to the job, pulls the next shard and replies with it, keeping the JsMsg until the
//   shard's result arrives (or ack_wait passes and JetStream delivers it to someone else);
// - while the device holds the shard (queued behind its current one, or running) it says so on
//   `...jobs.<job>.working`, and the broker resets the ack wait: a slow or queued shard is not
//   handed out twice, and a dead device's shard moves on one ack wait after its last word;
// - results arrive on the JOB_RESULTS stream, published by the device as itself; the service
//   folds them and the broker acks, naks or terminates the work-queue message accordingly.
import { PULL_EXPIRES_MS } from "@edgefleet/bus";
import {
  decodeJson,
  deviceIdFromSubject,
  encodeJson,
  encodeShardReply,
  JOB_NOTICE_OP,
  type ShardReplyHeadInput,
  type ShardResult,
  type ShardWorking,
  STREAMS,
  shardResultSchema,
  shardWorkingSchema,
  subjects,
} from "@edgefleet/protocol";
import {
  AckPolicy,
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import {
  headers,
  type Msg,
  type NatsConnection,
  nanos,
  type Subscription,
} from "@nats-io/transport-node";
import type { Logger } from "pino";
import { allowPrefetch, type ShardSpec } from "./job-plan";
import type { JobQueue, JobService } from "./job-service";

export const JOB_RESULTS_CONSUMER = "control-plane-job-results";
const QUEUE_GROUP = "control-plane-jobs";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface JobBrokerOptions {
  /** How often devices of running jobs are reminded (a device that missed a notice). Default 3 s. */
  noticeEveryMs?: number;
  /** What a device is told to wait when every remaining shard is held (default 250 ms). */
  waitMs?: number;
}

interface Held {
  msg: JsMsg;
  deviceId: string;
  delivery: number;
}

function consumerName(jobId: string): string {
  return `job-${jobId}`;
}

export class JobBroker implements JobQueue {
  private readonly held = new Map<string, Map<number, Held>>();
  private readonly consumers = new Map<string, Promise<Consumer>>();
  private sub: Subscription | undefined;
  private workingSub: Subscription | undefined;
  private results: ConsumerMessages | undefined;
  private timer: NodeJS.Timeout | undefined;
  private service: JobService | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly opts: JobBrokerOptions = {},
  ) {}

  maxPayload(): number {
    return this.nc.info?.max_payload ?? 2 ** 20;
  }

  async open(job: { id: string; ackWaitMs: number; maxAttempts: number }): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    await jsm.consumers.add(STREAMS.jobs.name, {
      durable_name: consumerName(job.id),
      filter_subject: subjects.jobShards(job.id),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(job.ackWaitMs),
      max_deliver: job.maxAttempts + 1,
      max_ack_pending: 10_000,
    });
  }

  async publishShards(
    jobId: string,
    shards: Array<ShardSpec & { inputs: Uint8Array }>,
  ): Promise<void> {
    const js = jetstream(this.nc);
    const subject = subjects.jobShards(jobId);
    // Async publishes, a window at a time: one await per publish is ~10x slower.
    for (let i = 0; i < shards.length; i += 64) {
      await Promise.all(
        shards.slice(i, i + 64).map((s) => {
          const h = headers();
          h.set("Shard-Index", String(s.index));
          h.set("Shard-Start", String(s.start));
          h.set("Shard-Count", String(s.count));
          return js.publish(subject, s.inputs, {
            msgID: `${jobId}:${s.index}`,
            headers: h,
            timeout: 10_000,
          });
        }),
      );
    }
  }

  async close(jobId: string): Promise<void> {
    this.held.delete(jobId);
    this.consumers.delete(jobId);
    const jsm = await jetstreamManager(this.nc);
    await jsm.consumers.delete(STREAMS.jobs.name, consumerName(jobId)).catch(() => false);
    await jsm.streams
      .purge(STREAMS.jobs.name, { filter: subjects.jobShards(jobId) })
      .catch(() => {});
  }

  notify(jobId: string, deviceIds: readonly string[]): void {
    const notice = encodeJson({ jobId });
    for (const id of deviceIds) this.nc.publish(subjects.rpc(id, JOB_NOTICE_OP), notice);
  }

  inFlight(jobId: string): Array<{ index: number; deviceId: string; delivery: number }> {
    return [...(this.held.get(jobId)?.entries() ?? [])]
      .map(([index, h]) => ({ index, deviceId: h.deviceId, delivery: h.delivery }))
      .sort((a, b) => a.index - b.index);
  }

  async start(service: JobService): Promise<void> {
    this.service = service;
    this.sub = this.nc.subscribe(subjects.anyJobNext, {
      queue: QUEUE_GROUP,
      callback: (_err, msg) => {
        void this.answerNext(msg).catch((err) => {
          this.log.warn({ err: String(err), subject: msg.subject }, "shard request failed");
          msg.respond(encodeShardReply({ status: "wait", retryMs: 1000 }));
        });
      },
    });
    // Not a queue group: the replica that holds the shard is the one that must hear it.
    this.workingSub = this.nc.subscribe(subjects.anyJobWorking, {
      callback: (_err, msg) => this.onWorking(msg),
    });
    const jsm = await jetstreamManager(this.nc);
    await jsm.consumers.add(STREAMS.jobResults.name, {
      durable_name: JOB_RESULTS_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // Results a stopped replica pulled but never folded reach another one after this.
      ack_wait: nanos(10_000),
      max_ack_pending: 1_000,
    });
    const consumer = await jetstream(this.nc).consumers.get(
      STREAMS.jobResults.name,
      JOB_RESULTS_CONSUMER,
    );
    this.results = await consumer.consume({ max_messages: 256, expires: PULL_EXPIRES_MS });
    void (async () => {
      for await (const m of this.results!) {
        // One fold at a time: shard settling reads then writes, and results are small.
        this.chain = this.chain
          .then(() => this.onResult(m))
          .catch((err) => {
            this.log.warn({ err: String(err) }, "job result not folded; redelivered later");
            m.nak(1000);
          });
      }
    })();
    this.timer = setInterval(() => void this.remind(), this.opts.noticeEveryMs ?? 3_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.sub?.unsubscribe();
    this.workingSub?.unsubscribe();
    await this.results?.close();
    await this.chain;
  }

  private async remind(): Promise<void> {
    try {
      for (const job of (await this.service?.runningJobs()) ?? [])
        this.notify(job.id, job.deviceIds);
    } catch (err) {
      this.log.debug({ err: String(err) }, "job reminders not sent");
    }
  }

  private consumer(jobId: string): Promise<Consumer> {
    let c = this.consumers.get(jobId);
    if (!c) {
      c = jetstream(this.nc).consumers.get(STREAMS.jobs.name, consumerName(jobId));
      this.consumers.set(jobId, c);
      c.catch(() => this.consumers.delete(jobId));
    }
    return c;
  }

  private async answerNext(msg: Msg): Promise<void> {
    const service = this.service!;
    const parts = msg.subject.split(".");
    const deviceId = parts[3];
    const jobId = parts[5];
    const reply = (head: ShardReplyHeadInput, inputs?: Uint8Array): void => {
      msg.respond(encodeShardReply(head, inputs));
    };
    if (!jobId || !UUID.test(jobId)) return reply({ status: "refused", reason: "no such job" });
    const m = await service.membership(jobId, deviceId);
    if (!m.member) return reply({ status: "refused", reason: m.reason });
    if (m.done) return reply({ status: "done", cancelled: m.cancelled });
    for (;;) {
      let jm: JsMsg | null;
      try {
        jm = await (await this.consumer(jobId)).next({ expires: 1000 });
      } catch (err) {
        // The consumer is gone: the job completed or was cancelled meanwhile (maybe on another
        // replica).
        this.consumers.delete(jobId);
        const state = await service.storedState(jobId);
        if (state === "cancelled") return reply({ status: "done", cancelled: true });
        const pending = await service.pendingShards(jobId);
        if (pending === 0) return reply({ status: "done" });
        throw err;
      }
      if (!jm) {
        const pending = await service.pendingShards(jobId);
        return reply(
          pending === 0 ? { status: "done" } : { status: "wait", retryMs: this.opts.waitMs ?? 250 },
        );
      }
      const index = Number(jm.headers?.get("Shard-Index"));
      const start = Number(jm.headers?.get("Shard-Start"));
      const count = Number(jm.headers?.get("Shard-Count"));
      const delivery = jm.info.deliveryCount;
      const decision = await service.onDelivery(jobId, index, delivery, deviceId);
      if (decision.action === "drop") {
        jm.ack();
        continue;
      }
      if (decision.action === "park") {
        this.log.warn({ jobId, index, error: decision.error }, "shard parked");
        jm.term(decision.error.slice(0, 200));
        continue;
      }
      const held = this.held.get(jobId) ?? new Map<number, Held>();
      this.held.set(jobId, held);
      held.set(index, { msg: jm, deviceId, delivery });
      return reply(
        {
          status: "shard",
          jobId,
          index,
          start,
          count,
          sampleDims: m.job.sampleDims,
          delivery,
          prefetch: allowPrefetch(m.job.prefetch, jm.info.pending, m.job.deviceIds.length),
          ackWaitMs: m.job.ackWaitMs,
          model: m.model,
        },
        jm.data,
      );
    }
  }

  /** A device still holds a shard: reset its ack wait, if this replica holds that delivery. */
  private onWorking(msg: Msg): void {
    const deviceId = deviceIdFromSubject(msg.subject);
    let working: ShardWorking;
    try {
      working = decodeJson(shardWorkingSchema, msg.data);
    } catch {
      return; // Nothing is held on a word that says nothing; the ack wait runs its course.
    }
    if (working.jobId !== msg.subject.split(".")[5]) return;
    const held = this.held.get(working.jobId)?.get(working.index);
    // Only the holder's word for the delivery it holds: another device cannot keep a shard from
    // moving on, nor can a stale word about an earlier delivery.
    if (held && held.deviceId === deviceId && held.delivery === working.delivery) {
      held.msg.working();
    }
  }

  private async onResult(m: JsMsg): Promise<void> {
    const deviceId = deviceIdFromSubject(m.subject);
    const jobId = m.subject.split(".")[5];
    let result: ShardResult;
    try {
      result = decodeJson(shardResultSchema, m.data);
    } catch (err) {
      this.log.warn({ err: String(err), deviceId }, "malformed job result dropped");
      m.term();
      return;
    }
    if (!deviceId || result.jobId !== jobId) {
      this.log.warn(
        { deviceId, subject: m.subject },
        "job result for another job's subject dropped",
      );
      m.term();
      return;
    }
    const decision = await this.service!.foldResult(deviceId, result);
    const held = this.held.get(jobId)?.get(result.index);
    if (decision && held) {
      switch (decision.action) {
        case "store":
        case "duplicate":
          held.msg.ack();
          this.held.get(jobId)?.delete(result.index);
          break;
        case "retry":
          // Only the failing device's hold is given back; another device's hold runs its course.
          if (held.deviceId === deviceId) {
            held.msg.nak(200);
            this.held.get(jobId)?.delete(result.index);
          }
          break;
        case "park":
          held.msg.term(decision.error.slice(0, 200));
          this.held.get(jobId)?.delete(result.index);
          break;
        case "late":
          // The job's consumer and messages are gone (cancelled): nothing to settle.
          this.held.get(jobId)?.delete(result.index);
          break;
      }
    }
    m.ack();
  }
}
