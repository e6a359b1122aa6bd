// Wire types of sharded batch jobs: the notice a device gets, the reply to its "next shard"
// request (a JSON head and the shard's float32 inputs in one binary envelope), its result
// message, and the REST views every transport shares.
import { z } from "zod";
import { artifactManifestSchema } from "./dispatch";
import { MessageDecodeError } from "./messages";

/** On `ef.v1.rpc.<id>.job`: a job this device belongs to has work. Carries nothing to trust. */
export const jobNoticeSchema = z.object({ jobId: z.string().uuid() });
export type JobNotice = z.infer<typeof jobNoticeSchema>;

/** How the device runs a shard: its own serving variant, or one named by the job. */
export const jobModelSchema = z.discriminatedUnion("mode", [
  z.object({ mode: z.literal("assigned") }),
  z.object({
    mode: z.literal("variant"),
    manifest: artifactManifestSchema,
    signature: z.string().min(1),
  }),
]);
export type JobModel = z.infer<typeof jobModelSchema>;

export const shardReplyHeadSchema = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("shard"),
    jobId: z.string().uuid(),
    index: z.number().int().nonnegative(),
    /** Index of the shard's first input in the dataset. */
    start: z.number().int().nonnegative(),
    count: z.number().int().positive(),
    sampleDims: z.array(z.number().int().positive()).min(1).max(8),
    /** Times JetStream has delivered this shard (1 = first try). */
    delivery: z.number().int().positive(),
    /** Ask for the next shard now, while running this one (enough are queued for everyone). */
    prefetch: z.boolean().default(false),
    /**
     * How long the control plane waits for a sign of work on this shard before handing it to
     * another device: the device sends a `shardWorkingSchema` word well within it while it holds
     * the shard.
     * Absent: it sends nothing (the shard's result must come within the job's ack wait).
     */
    ackWaitMs: z.number().int().positive().optional(),
    model: jobModelSchema,
  }),
  /** Every remaining shard is held by some device: ask again shortly. */
  z.object({ status: z.literal("wait"), retryMs: z.number().int().positive() }),
  /** Every shard is done or parked, or the job was cancelled (`cancelled` true): stop pulling. */
  z.object({ status: z.literal("done"), cancelled: z.boolean().default(false) }),
  /** Not a member of this job (or no such job). */
  z.object({ status: z.literal("refused"), reason: z.string() }),
]);
export type ShardReplyHead = z.infer<typeof shardReplyHeadSchema>;
export type ShardReplyHeadInput = z.input<typeof shardReplyHeadSchema>;
export type ShardReply = ShardReplyHead & { inputs?: Float32Array };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** [u32 LE head length][head JSON][float32 LE inputs, only for status "shard"]. */
export function encodeShardReply(
  head: z.input<typeof shardReplyHeadSchema>,
  inputs?: Uint8Array,
): Uint8Array {
  const json = encoder.encode(JSON.stringify(head));
  const out = new Uint8Array(4 + json.length + (inputs?.length ?? 0));
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  if (inputs) out.set(inputs, 4 + json.length);
  return out;
}

export function decodeShardReply(bytes: Uint8Array): ShardReply {
  if (bytes.length < 4) throw new MessageDecodeError("shard reply: shorter than its header");
  const headLength = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (4 + headLength > bytes.length) throw new MessageDecodeError("shard reply: head truncated");
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes.subarray(4, 4 + headLength)));
  } catch (cause) {
    throw new MessageDecodeError("shard reply: head is not valid JSON", { cause });
  }
  const parsed = shardReplyHeadSchema.safeParse(raw);
  if (!parsed.success) {
    throw new MessageDecodeError(`shard reply: ${parsed.error.issues[0]?.path.join(".")}`);
  }
  const head = parsed.data;
  if (head.status !== "shard") return head;
  const body = bytes.subarray(4 + headLength);
  const expected = head.count * head.sampleDims.reduce((a, b) => a * b, 1) * 4;
  if (body.length !== expected) {
    throw new MessageDecodeError(
      `shard reply: inputs are ${body.length} bytes, ${head.count} samples need ${expected}`,
    );
  }
  // A copy: the body's offset in the message need not be 4-aligned.
  const inputs = new Float32Array(new Uint8Array(body).buffer);
  return { ...head, inputs };
}

/**
 * On `ef.v1.dev.<id>.jobs.<jobId>.working`: the device holds this delivery of the shard (queued
 * behind the one it runs, or running). A dead device stops sending, and the shard goes to
 * another device one ack wait later.
 */
export const shardWorkingSchema = z.object({
  jobId: z.string().uuid(),
  index: z.number().int().nonnegative(),
  delivery: z.number().int().positive(),
});
export type ShardWorking = z.infer<typeof shardWorkingSchema>;

/** On `ef.v1.dev.<id>.jobs.<jobId>.results`, published as the device (JetStream, msgID dedupe). */
export const shardResultSchema = z.discriminatedUnion("ok", [
  z.object({
    ok: z.literal(true),
    jobId: z.string().uuid(),
    index: z.number().int().nonnegative(),
    variantId: z.string().uuid(),
    /** Model time for the shard on this device (the simulated class's slowdown included). */
    runMs: z.number().nonnegative(),
    /** Outputs per input of the model's first output. */
    classes: z.number().int().positive().max(100_000),
    argmax: z.array(z.number().int().nonnegative()),
    /** count x classes, row-major. */
    scores: z.array(z.number()),
  }),
  z.object({
    ok: z.literal(false),
    jobId: z.string().uuid(),
    index: z.number().int().nonnegative(),
    variantId: z.string().uuid().nullable(),
    error: z.string().max(2000),
  }),
]);
export type ShardResult = z.infer<typeof shardResultSchema>;

/**
 * msgID of a result: JetStream drops a second publish of the same delivery's result (a publish
 * retried after a lost ack). The delivery is part of it: with `<job>:<shard>` alone, the result
 * of a retry after a failed attempt would be dropped as a duplicate of the failure. So is the
 * device: the duplicate window spans the whole stream, and a device that could predict another's
 * msgID could otherwise have the server drop that device's result. Results of different
 * deliveries of one shard are deduplicated by the fold (the first success wins).
 */
export function shardResultMsgId(
  deviceId: string,
  jobId: string,
  index: number,
  delivery: number,
): string {
  return `${deviceId}:${jobId}:${index}:${delivery}`;
}

export type JobState = "running" | "completed" | "cancelled";
export type JobShardState = "pending" | "done" | "parked";

export interface JobThroughputView {
  key: string;
  shards: number;
  samples: number;
  /** Samples per second of model time on that device (or class, summed over its devices). */
  samplesPerSecond: number;
}

export interface JobView {
  id: string;
  name: string;
  state: JobState;
  model: { mode: "assigned" } | { mode: "variant"; variantId: string };
  dataset: { kind: "mnist" } | { kind: "tensors"; digest: string };
  sampleDims: number[];
  samples: number;
  shardSize: number;
  devices: number;
  shards: { total: number; pending: number; done: number; parked: number };
  /** Results received for shards already done (ignored, counted). */
  duplicates: number;
  /** Correct / labelled, over done shards; null when the dataset has no labels. */
  accuracy: number | null;
  /** Samples per second over the job's wall time so far. */
  samplesPerSecond: number;
  perDevice: JobThroughputView[];
  perClass: JobThroughputView[];
  parked: Array<{ index: number; error: string }>;
  /** Shards handed out and not yet settled, as this control-plane replica knows them. */
  inFlight: Array<{ index: number; deviceId: string; delivery: number }>;
  createdAt: string;
  /** When it completed, or was cancelled. */
  completedAt: string | null;
  /** Set when cancelled: who (an apitoken:<id> actor) and why (null: no reason given). */
  cancelled: { by: string; reason: string | null } | null;
  /** Results that arrived after the job was cancelled (ignored, counted). */
  lateResults: number;
}

export interface JobResultRowView {
  /** Index of the input in the dataset. */
  input: number;
  shard: number;
  argmax: number;
  scores: number[];
  label: number | null;
}

export interface JobResultsView {
  jobId: string;
  rows: JobResultRowView[];
  /** Next `from`, or null at the end of what is done so far. */
  next: number | null;
  /** Inputs whose shard is not done (pending or parked) are skipped: listed here. */
  missingShards: number[];
}
