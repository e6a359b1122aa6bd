// JSON messages carried over NATS and the WebSocket stream. Every consumer parses with these
// schemas, so a malformed message is refused at the edge with a message naming the field.
import { z } from "zod";
import { byteCountSchema, epochMsSchema, textSchema } from "./bounds";
import { stateReportSchema } from "./dispatch";

export const hardwareFactsSchema = z.object({
  arch: textSchema(32).min(1),
  cores: z.number().int().positive().max(4096),
  ramTotalBytes: byteCountSchema,
  ramFreeBytes: byteCountSchema,
  cpuModel: textSchema(200),
  cpuFlags: z.array(textSchema(32)).max(64),
  accelerators: z.array(textSchema(64)).max(16),
  os: textSchema(64),
  simulated: z.boolean(),
  deviceClass: textSchema(64),
});
export type HardwareFactsJson = z.infer<typeof hardwareFactsSchema>;

/** The arithmetic a kernel runs in; FLOPs are labelled by the kernel that executes them. */
export type KernelType = "fp32" | "fp16" | "int8" | "int4";
/** native: at least as fast as fp32; slow: runs, but slower than fp32; unsupported: fails. */
export type KernelSupport = "native" | "slow" | "unsupported";

const measureSchema = z.object({
  best: z.number().nonnegative(),
  median: z.number().nonnegative(),
});
const kernelFigureSchema = z.object({
  status: z.enum(["native", "slow", "unsupported"]),
  opsPerSecond: measureSchema,
  detail: z.string().max(500).optional(),
});
export const profileFiguresSchema = z.object({
  kernels: z.object({
    fp32: kernelFigureSchema,
    fp16: kernelFigureSchema,
    int8: kernelFigureSchema,
    int4: kernelFigureSchema,
  }),
  memoryBandwidthBytesPerSecond: measureSchema,
  cacheBandwidthBytesPerSecond: measureSchema.optional(),
  cacheBytes: z.number().nonnegative().optional(),
  runOverheadMs: measureSchema,
  perOpOverheadMs: measureSchema,
  modelLoadMs: measureSchema,
  memoryBudgetBytes: z.number().nonnegative(),
});

/** Best and median of repeated measurements. */
export type Measure = z.infer<typeof measureSchema>;
export type KernelFigure = z.infer<typeof kernelFigureSchema>;
/** What a profile says a device can do: the planner plans with these, the runtime measures them. */
export type ProfileFigures = z.infer<typeof profileFiguresSchema>;

/** A device profile as the agent reports it (see @edgefleet/runtime `measureProfile`). */
export const deviceProfileSchema = z.object({
  version: z.literal(1),
  measuredAt: z.iso.datetime(),
  threads: z.number().int().positive().max(4096),
  simulated: z.boolean(),
  deviceClass: textSchema(64),
  facts: hardwareFactsSchema,
  /** What the planner plans with: derived for a simulated class. */
  figures: profileFiguresSchema,
  /** What this host really measured. */
  measured: profileFiguresSchema,
  simulation: z.record(z.string(), z.unknown()).optional(),
  benchmarks: z.array(z.record(z.string(), z.unknown())).max(100),
  durationMs: z.number().nonnegative(),
});
export type DeviceProfileJson = z.infer<typeof deviceProfileSchema>;

/** Core-NATS liveness beat: `ef.v1.dev.<id>.heartbeat`. */
export const heartbeatSchema = z.object({
  seq: z.number().int().nonnegative(),
  sentAt: epochMsSchema,
  agentVersion: textSchema(64),
  uptimeS: z.number().nonnegative(),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

/** State reports and lifecycle events: `ef.v1.dev.<id>.events` (stream EVENTS). */
export const deviceEventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("facts"),
    sentAt: epochMsSchema,
    agentVersion: textSchema(64),
    facts: hardwareFactsSchema,
  }),
  z.object({
    type: z.literal("started"),
    sentAt: epochMsSchema,
    agentVersion: textSchema(64),
  }),
  z.object({
    type: z.literal("profile"),
    sentAt: epochMsSchema,
    agentVersion: textSchema(64),
    /** Why it was measured: first start, new agent version, or an operator's request. */
    trigger: z.enum(["start", "version", "stale", "request"]),
    profile: deviceProfileSchema,
  }),
  z.object({
    type: z.literal("stopping"),
    sentAt: epochMsSchema,
    reason: textSchema(200),
  }),
  stateReportSchema,
]);
export type DeviceEvent = z.infer<typeof deviceEventSchema>;

/** Reply of `ef.v1.rpc.<id>.profile`: the agent accepted and will publish a profile event. */
export const reprofileReplySchema = z.object({
  accepted: z.boolean(),
  reason: z.string().optional(),
});

/**
 * `ef.v1.rpc.<id>.measure-latency`: the model rides in the payload (ONNX bytes, or the packed
 * form); these fields ride in headers.
 */
export const measureLatencyHeadersSchema = z.object({
  variantId: z.string().uuid(),
  batch: z.coerce.number().int().min(1).max(1024),
});

const latencyFiguresSchema = z.object({
  bestMs: z.number().nonnegative(),
  medianMs: z.number().nonnegative(),
  p90Ms: z.number().nonnegative(),
});
export const measureLatencyReplySchema = z.discriminatedUnion("ok", [
  z.object({
    ok: z.literal(true),
    variantId: z.string(),
    threads: z.number().int().positive(),
    simulated: z.boolean(),
    deviceClass: z.string(),
    batch1: latencyFiguresSchema,
    batchN: latencyFiguresSchema.extend({ batch: z.number().int().positive() }),
  }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type MeasureLatencyReply = z.infer<typeof measureLatencyReplySchema>;

/** What the control plane pushes to WebSocket clients. */
export const fleetEventSchema = z.object({
  type: z.enum([
    "device.enrolled",
    "device.online",
    "device.offline",
    "device.updated",
    "device.profiled",
    /** Desired state written: `data` holds generation, variant and model. */
    "device.assigned",
    /** A state report arrived: `data` holds desired vs reported. */
    "device.state",
    /** A telemetry message was folded: `data` holds its window's figures. */
    "device.telemetry",
    /** A rollout changed (state, wave, gates): `rolloutId` set, `data` its view. */
    "rollout.updated",
    /** The re-targeting loop moved a device: `data` holds from, to and why. */
    "device.retargeted",
    /** A sharded batch job progressed (throttled): `jobId` set, `data` its view. */
    "job.updated",
    /** A federated calibration run progressed: `data` holds its view (issue 9). */
    "calibration.updated",
    /** A pipeline was planned or re-planned, or failed: `data` holds its id, plan and reasons. */
    "pipeline.updated",
  ]),
  /** The device concerned; "" for fleet-wide events (rollouts). */
  deviceId: z.string(),
  rolloutId: z.string().optional(),
  jobId: z.string().optional(),
  at: z.string(),
  device: z.record(z.string(), z.unknown()).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type FleetEvent = z.infer<typeof fleetEventSchema>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class MessageDecodeError extends Error {
  override name = "MessageDecodeError";
}

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses bytes as JSON and validates them; the error names the first failing field. */
export function decodeJson<T>(schema: z.ZodType<T>, bytes: Uint8Array): T {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new MessageDecodeError("message is not valid JSON", { cause });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new MessageDecodeError(describeZodError(parsed.error));
  return parsed.data;
}

/** "facts.cores: Too small: expected number to be >0" — one line, the field first. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}
