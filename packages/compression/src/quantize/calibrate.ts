import { cloneModel, DataType, encodeModel, type ModelProto, valueInfo } from "@edgefleet/onnx";
import { createSession, floatTensor, run } from "@edgefleet/runtime";
import {
  addToHistogram,
  emptyHistogram,
  type Histogram,
  mseRange,
  percentileRange,
} from "./histogram";
import { minMax } from "./qmath";

export type CalibrationMethod = "minmax" | "percentile" | "mse";

/** One calibration batch: float32 input tensors by input name. */
export type CalibrationBatch = Record<string, { data: Float32Array; dims: readonly number[] }>;

export interface TensorStats {
  min: number;
  max: number;
  histogram?: Histogram;
}

export interface CalibrateOptions {
  method?: CalibrationMethod;
  percentile?: number;
  bins?: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

/** A copy of the model that also outputs the given intermediate tensors. */
export function exposeTensors(model: ModelProto, names: readonly string[]): ModelProto {
  const m = cloneModel(model);
  const g = m.graph ?? {};
  const existing = new Set((g.output ?? []).map((o) => o.name));
  g.output = [
    ...(g.output ?? []),
    ...names.filter((n) => !existing.has(n)).map((n) => valueInfo(n, DataType.FLOAT)),
  ];
  return m;
}

/**
 * Runs the float model over the calibration batches and records each target tensor's range,
 * plus (for percentile/MSE) a histogram in a second pass over the now known range.
 */
export async function collectStats(
  model: ModelProto,
  targets: readonly string[],
  batches: readonly CalibrationBatch[],
  options: CalibrateOptions = {},
): Promise<Map<string, TensorStats>> {
  const session = await createSession(encodeModel(exposeTensors(model, targets)), {
    threads: options.threads,
  });
  const needHist = (options.method ?? "minmax") !== "minmax";
  const passes = needHist ? 2 : 1;
  const total = batches.length * passes;
  const stats = new Map<string, TensorStats>(
    targets.map((t) => [t, { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY }]),
  );
  try {
    for (let pass = 0; pass < passes; pass++) {
      for (const [i, batch] of batches.entries()) {
        const feeds = Object.fromEntries(
          Object.entries(batch).map(([k, v]) => [k, floatTensor(v.data, v.dims)]),
        );
        const out = await run(session, feeds);
        for (const t of targets) {
          const s = stats.get(t) as TensorStats;
          const data = out[t]?.data as Float32Array;
          if (pass === 0) {
            const [lo, hi] = minMax(data);
            s.min = Math.min(s.min, lo);
            s.max = Math.max(s.max, hi);
          } else {
            s.histogram ??= emptyHistogram(s.min, s.max, options.bins ?? 2048);
            addToHistogram(s.histogram, data);
          }
        }
        options.onProgress?.(pass * batches.length + i + 1, total);
      }
    }
  } finally {
    await session.release();
  }
  return stats;
}

export function rangeFromStats(
  s: TensorStats,
  method: CalibrationMethod,
  percentile = 99.99,
): [number, number] {
  if (method === "minmax" || !s.histogram) return [s.min, s.max];
  if (method === "percentile") return percentileRange(s.histogram, percentile);
  return mseRange(s.histogram);
}

export async function calibrate(
  model: ModelProto,
  targets: readonly string[],
  batches: readonly CalibrationBatch[],
  options: CalibrateOptions = {},
): Promise<Map<string, [number, number]>> {
  const stats = await collectStats(model, targets, batches, options);
  const method = options.method ?? "minmax";
  return new Map(
    [...stats].map(([t, s]) => [t, rangeFromStats(s, method, options.percentile)] as const),
  );
}
