// Telemetry a device publishes every few seconds on `ef.v1.dev.<id>.telemetry` (stream TELEMETRY).
import { z } from "zod";
import { byteCountSchema, epochMsSchema, int4Schema, textSchema } from "./bounds";

/** No request takes a day; sums of a window stay far from overflowing when rollups add them. */
const DAY_MS = 86_400_000;
const MAX_SUM_MS = 1e18;

/**
 * A mergeable latency distribution in milliseconds: a DDSketch (relative accuracy 1 %) in its
 * protobuf form, base64. The sketch's own proto loses count, min, max and sum, so they ride beside.
 */
export const latencySummarySchema = z.object({
  sketch: z.string().max(64_000),
  count: int4Schema.positive(),
  sumMs: z.number().nonnegative().max(MAX_SUM_MS),
  minMs: z.number().nonnegative().max(DAY_MS),
  maxMs: z.number().nonnegative().max(DAY_MS),
});
export type LatencySummary = z.infer<typeof latencySummarySchema>;

export const telemetrySchema = z.object({
  version: z.literal(1),
  /**
   * (epoch, seq) orders a device's messages and names each once: epoch is a counter the agent
   * bumps at every start (kept on disk), seq counts messages within it. A resend after a lost
   * ack carries the same pair, so the control plane folds it once.
   */
  epoch: int4Schema,
  seq: int4Schema,
  /** The window this message covers, ms since the epoch (device clock). */
  windowStart: epochMsSchema,
  windowEnd: epochMsSchema,
  /** What was serving at the end of the window; null when nothing was loaded. */
  variantId: z.string().uuid().nullable(),
  generation: int4Schema,
  /** Requests answered, failed (model errors), and refused (queue full or no model). */
  requests: int4Schema,
  errors: int4Schema,
  rejected: int4Schema,
  /** End-to-end latency of answered requests, queueing included: what applications see. */
  latency: latencySummarySchema.nullable(),
  /** ONNX Runtime run time of single-sample runs: what the planner predicts. */
  runBatch1: latencySummarySchema.nullable(),
  /** Model runs and the samples they carried (samples / runs = mean micro-batch). */
  runs: int4Schema,
  samples: int4Schema,
  queueDepth: int4Schema,
  queueDepthMax: int4Schema,
  /** Agent process CPU over the window (100 = one core busy) and resident memory at its end. */
  cpuPercent: z
    .number()
    .nonnegative()
    .max(100 * 4096),
  rssBytes: byteCountSchema,
  /** Figures of a simulated device class are derived from the host's (see runtime). */
  simulated: z.boolean(),
  deviceClass: textSchema(64),
  /** Messages the device dropped from its offline buffer before this one (buffer full). */
  droppedBefore: int4Schema,
  /**
   * Shadow comparisons in the window (assignment `shadow`): live requests also run on the
   * previous variant, and how many of them agreed on the top-1 class. null when off.
   */
  shadow: z
    .object({
      compared: int4Schema,
      agreed: int4Schema,
    })
    .nullable()
    .default(null),
});
export type Telemetry = z.infer<typeof telemetrySchema>;
