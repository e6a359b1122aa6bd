// Federated calibration on the wire: the control plane asks a device (`ef.v1.rpc.<id>.calibrate`,
// request/reply) for activation statistics of an fp32 variant over the device's own data. Only
// statistics travel: round 1 per-tensor ranges, round 2 fixed-bin histograms over the merged
// ranges (counts as base64 float64, so a reply's size depends on tensors and bins, never on how
// many samples the device holds).
import { z } from "zod";
import { artifactManifestSchema } from "./dispatch";

export const CALIBRATE_OP = "calibrate";

export const calibrationMethodSchema = z.enum(["minmax", "percentile", "mse"]);

export const MIN_HISTOGRAM_BINS = 16;
export const MAX_HISTOGRAM_BINS = 16_384;
export const MAX_CALIBRATION_TARGETS = 512;

const tensorName = z.string().min(1).max(256);
const finite = z.number().finite();

export const calibrateRequestSchema = z
  .object({
    runId: z.string().uuid(),
    round: z.union([z.literal(1), z.literal(2)]),
    /** The fp32 variant, signed like an assignment: the device verifies it before running it. */
    manifest: artifactManifestSchema,
    signature: z.string().max(200),
    targets: z.array(tensorName).min(1).max(MAX_CALIBRATION_TARGETS),
    /** Round 2: the merged range of every target, and the bins to histogram it into. */
    ranges: z.record(tensorName, z.tuple([finite, finite])).optional(),
    bins: z.number().int().min(MIN_HISTOGRAM_BINS).max(MAX_HISTOGRAM_BINS).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.round !== 2) return;
    if (r.bins === undefined)
      ctx.addIssue({ code: "custom", path: ["bins"], message: "round 2 needs bins" });
    for (const t of r.targets) {
      if (!r.ranges?.[t]) {
        ctx.addIssue({
          code: "custom",
          path: ["ranges", t],
          message: "round 2 needs a range for every target",
        });
        return;
      }
    }
  });
export type CalibrateRequest = z.infer<typeof calibrateRequestSchema>;

const rangeStatsWire = z.object({ min: finite, max: finite, count: z.number().int().positive() });
const histogramWire = z.object({ lo: finite, hi: finite, counts: z.string().max(2 ** 20) });

export const calibrateReplySchema = z.discriminatedUnion("ok", [
  z.object({
    ok: z.literal(true),
    runId: z.string().uuid(),
    round: z.union([z.literal(1), z.literal(2)]),
    /** How many local samples the statistics cover (a count, not the samples). */
    samples: z.number().int().positive(),
    ranges: z.record(tensorName, rangeStatsWire).optional(),
    histograms: z.record(tensorName, histogramWire).optional(),
  }),
  z.object({ ok: z.literal(false), error: z.string().max(2000) }),
]);
export type CalibrateReply = z.infer<typeof calibrateReplySchema>;

/** Histogram counts as base64 of little-endian float64 (exact for counts below 2^53). */
export function encodeCounts(counts: Float64Array): string {
  const bytes = new Uint8Array(counts.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < counts.length; i++) view.setFloat64(i * 8, counts[i], true);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

export function decodeCounts(text: string): Float64Array {
  const bin = atob(text);
  if (bin.length % 8 !== 0) throw new RangeError("counts are not whole float64 values");
  const view = new DataView(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
  return Float64Array.from({ length: bin.length / 8 }, (_, i) => view.getFloat64(i * 8, true));
}

/** A device's statistics refused: which device, which field, why. */
export class CalibrationReplyError extends Error {
  override name = "CalibrationReplyError";
  constructor(
    readonly deviceId: string,
    readonly field: string,
    message: string,
  ) {
    super(`device ${deviceId}: ${field}: ${message}`);
  }
}

export interface ExpectedReply {
  deviceId: string;
  runId: string;
  round: 1 | 2;
  targets: readonly string[];
  /** Round 2: the ranges that were sent and the bin count. */
  ranges?: ReadonlyMap<string, readonly [number, number]>;
  bins?: number;
  /** Round 2: the device's round-1 value counts (the same data must give the same totals). */
  counts?: ReadonlyMap<string, number>;
}

export type AcceptedReply =
  | { round: 1; samples: number; ranges: Map<string, { min: number; max: number; count: number }> }
  | {
      round: 2;
      samples: number;
      histograms: Map<string, { lo: number; hi: number; counts: Float64Array }>;
    };

/**
 * Checks a device's reply strictly against what was asked: shape, run, round, exactly the target
 * tensors, finite ordered ranges, the bin count and range of every histogram. Throws
 * CalibrationReplyError naming the device and field; returns the statistics typed.
 */
export function checkCalibrationReply(raw: unknown, e: ExpectedReply): AcceptedReply {
  const fail = (field: string, message: string) =>
    new CalibrationReplyError(e.deviceId, field, message);
  const parsed = calibrateReplySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw fail(issue?.path.join(".") || "(root)", issue?.message ?? "malformed");
  }
  const r = parsed.data;
  if (!r.ok) throw fail("error", r.error);
  if (r.runId !== e.runId) throw fail("runId", `is ${r.runId}, expected ${e.runId}`);
  if (r.round !== e.round) throw fail("round", `is ${r.round}, expected ${e.round}`);
  const key = e.round === 1 ? "ranges" : "histograms";
  const got = r[key];
  if (!got) throw fail(key, "is missing");
  const names = Object.keys(got);
  const want = new Set(e.targets);
  const extra = names.find((n) => !want.has(n));
  if (extra !== undefined) throw fail(`${key}.${extra}`, "is not a target tensor");
  const missing = e.targets.find((t) => !(t in got));
  if (missing !== undefined) throw fail(`${key}.${missing}`, "is missing");
  if (e.round === 1) {
    const ranges = new Map<string, { min: number; max: number; count: number }>();
    for (const t of e.targets) {
      const s = (r.ranges as NonNullable<typeof r.ranges>)[t];
      if (s.min > s.max) throw fail(`ranges.${t}`, `min ${s.min} is above max ${s.max}`);
      ranges.set(t, s);
    }
    return { round: 1, samples: r.samples, ranges };
  }
  const histograms = new Map<string, { lo: number; hi: number; counts: Float64Array }>();
  for (const t of e.targets) {
    const h = (r.histograms as NonNullable<typeof r.histograms>)[t];
    const field = `histograms.${t}`;
    const sent = e.ranges?.get(t);
    if (sent && (h.lo !== sent[0] || h.hi !== sent[1])) {
      throw fail(field, `covers [${h.lo}, ${h.hi}], not the merged range [${sent[0]}, ${sent[1]}]`);
    }
    let counts: Float64Array;
    try {
      counts = decodeCounts(h.counts);
    } catch {
      throw fail(`${field}.counts`, "is not base64 float64");
    }
    if (e.bins !== undefined && counts.length !== e.bins) {
      throw fail(`${field}.counts`, `has ${counts.length} bins, expected ${e.bins}`);
    }
    let total = 0;
    for (const c of counts) {
      if (!Number.isInteger(c) || c < 0) throw fail(`${field}.counts`, `holds ${c}, not a count`);
      total += c;
    }
    const expected = e.counts?.get(t);
    if (expected !== undefined && total !== expected) {
      throw fail(`${field}.counts`, `add up to ${total}, round 1 counted ${expected}`);
    }
    histograms.set(t, { lo: h.lo, hi: h.hi, counts });
  }
  return { round: 2, samples: r.samples, histograms };
}

/** One device's part in a run, as the REST API, the stream and the CLI show it. */
export interface CalibrationDeviceView {
  deviceId: string;
  /** asked: waiting for its reply; answered: its statistics are merged; dropped: see reason. */
  status: "asked" | "answered" | "dropped";
  /** The last round it answered (0: none). */
  round: number;
  samples: number;
  /** Bytes of statistics it sent, all rounds (its raw samples would be rawBytes). */
  bytesSent: number;
  rawBytes: number;
  reason?: string;
}

export interface CalibrationRunView {
  id: string;
  modelId: string;
  sourceVariantId: string;
  method: "minmax" | "percentile" | "mse";
  percentile: number | null;
  bins: number;
  minDevices: number;
  state: "running" | "succeeded" | "failed";
  phase: "round1" | "round2" | "building" | "done";
  rounds: number;
  devices: CalibrationDeviceView[];
  samples: number;
  resultVariantId: string | null;
  result: {
    variantName: string;
    accuracy: number;
    sourceAccuracy: number | null;
    devices: number;
    samples: number;
    durationMs: number;
  } | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}
