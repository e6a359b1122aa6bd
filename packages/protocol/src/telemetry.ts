// Telemetry a device publishes every few seconds on `ef.v1.dev.<id>.telemetry` (stream TELEMETRY).
import { z } from "zod";

/**
 * A mergeable latency distribution in milliseconds: a DDSketch (relative accuracy 1 %) in its
 * protobuf form, base64. The sketch's own proto loses count, min, max and sum, so they ride beside.
 */
export const latencySummarySchema = z.object({
  sketch: z.string().max(64_000),
  count: z.number().int().positive(),
  sumMs: z.number().nonnegative(),
  minMs: z.number().nonnegative(),
  maxMs: z.number().nonnegative(),
});
export type LatencySummary = z.infer<typeof latencySummarySchema>;

export const telemetrySchema = z.object({
  version: z.literal(1),
  /**
   * (epoch, seq) orders a device's messages and names each once: epoch is a counter the agent
   * bumps at every start (kept on disk), seq counts messages within it. A resend after a lost
   * ack carries the same pair, so the control plane folds it once.
   */
  epoch: z.number().int().nonnegative(),
  seq: z.number().int().nonnegative(),
  /** The window this message covers, ms since the epoch (device clock). */
  windowStart: z.number().int().positive(),
  windowEnd: z.number().int().positive(),
  /** What was serving at the end of the window; null when nothing was loaded. */
  variantId: z.string().uuid().nullable(),
  generation: z.number().int().nonnegative(),
  /** Requests answered, failed (model errors), and refused (queue full or no model). */
  requests: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  /** End-to-end latency of answered requests, queueing included: what applications see. */
  latency: latencySummarySchema.nullable(),
  /** ONNX Runtime run time of single-sample runs: what the planner predicts. */
  runBatch1: latencySummarySchema.nullable(),
  /** Model runs and the samples they carried (samples / runs = mean micro-batch). */
  runs: z.number().int().nonnegative(),
  samples: z.number().int().nonnegative(),
  queueDepth: z.number().int().nonnegative(),
  queueDepthMax: z.number().int().nonnegative(),
  /** Agent process CPU over the window (100 = one core busy) and resident memory at its end. */
  cpuPercent: z.number().nonnegative(),
  rssBytes: z.number().int().nonnegative(),
  /** Figures of a simulated device class are derived from the host's (see runtime). */
  simulated: z.boolean(),
  deviceClass: z.string().max(64),
  /** Messages the device dropped from its offline buffer before this one (buffer full). */
  droppedBefore: z.number().int().nonnegative(),
  /**
   * Shadow comparisons in the window (assignment `shadow`): live requests also run on the
   * previous variant, and how many of them agreed on the top-1 class. null when off.
   */
  shadow: z
    .object({
      compared: z.number().int().nonnegative(),
      agreed: z.number().int().nonnegative(),
    })
    .nullable()
    .default(null),
});
export type Telemetry = z.infer<typeof telemetrySchema>;
