import { cloneModel, DataType, encodeModel, type ModelProto, valueInfo } from "@edgefleet/onnx";
import { createSession, floatTensor, run, type Session } from "@edgefleet/runtime";
import {
  accumulateRange,
  addToHistogram,
  type CalibrationMethod,
  DEFAULT_HISTOGRAM_BINS,
  emptyRangeStats,
  histogramFor,
  type RangeStats,
  rangeOf,
} from "./calibration-stats";
import type { Histogram } from "./histogram";

export type { CalibrationMethod };

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

/** An ONNX Runtime session over the model with the target tensors exposed as outputs. */
export async function openExposed(
  model: ModelProto,
  targets: readonly string[],
  threads?: number,
): Promise<Session> {
  return createSession(encodeModel(exposeTensors(model, targets)), { threads });
}

async function forEachOutput(
  session: Session,
  targets: readonly string[],
  batches: readonly CalibrationBatch[],
  visit: (target: string, values: Float32Array) => void,
  onBatch?: (i: number) => void,
): Promise<void> {
  for (const [i, batch] of batches.entries()) {
    const feeds = Object.fromEntries(
      Object.entries(batch).map(([k, v]) => [k, floatTensor(v.data, v.dims)]),
    );
    const out = await run(session, feeds);
    for (const t of targets) {
      const data = out[t]?.data;
      if (!(data instanceof Float32Array)) throw new RangeError(`tensor "${t}" is not float32`);
      visit(t, data);
    }
    onBatch?.(i);
  }
}

/** Pass 1: each target tensor's min, max and value count over the batches. */
export async function collectRanges(
  session: Session,
  targets: readonly string[],
  batches: readonly CalibrationBatch[],
  onBatch?: (i: number) => void,
): Promise<Map<string, RangeStats>> {
  const stats = new Map(targets.map((t) => [t, emptyRangeStats()] as const));
  await forEachOutput(
    session,
    targets,
    batches,
    (t, v) => accumulateRange(stats.get(t) as RangeStats, v),
    onBatch,
  );
  return stats;
}

/** Pass 2: a histogram per target tensor over the given ranges (the same bins everywhere). */
export async function collectHistograms(
  session: Session,
  ranges: ReadonlyMap<string, Pick<RangeStats, "min" | "max">>,
  bins: number,
  batches: readonly CalibrationBatch[],
  onBatch?: (i: number) => void,
): Promise<Map<string, Histogram>> {
  const targets = [...ranges.keys()];
  const hists = new Map([...ranges].map(([t, r]) => [t, histogramFor(r, bins)] as const));
  await forEachOutput(
    session,
    targets,
    batches,
    (t, v) => addToHistogram(hists.get(t) as Histogram, v),
    onBatch,
  );
  return hists;
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
  const session = await openExposed(model, targets, options.threads);
  const needHist = (options.method ?? "minmax") !== "minmax";
  const total = batches.length * (needHist ? 2 : 1);
  try {
    const ranges = await collectRanges(session, targets, batches, (i) =>
      options.onProgress?.(i + 1, total),
    );
    const hists = needHist
      ? await collectHistograms(
          session,
          ranges,
          options.bins ?? DEFAULT_HISTOGRAM_BINS,
          batches,
          (i) => options.onProgress?.(batches.length + i + 1, total),
        )
      : undefined;
    return new Map(
      [...ranges].map(
        ([t, r]) => [t, { min: r.min, max: r.max, histogram: hists?.get(t) }] as const,
      ),
    );
  } finally {
    await session.release();
  }
}

export function rangeFromStats(
  s: TensorStats,
  method: CalibrationMethod,
  percentile?: number,
): [number, number] {
  if (method !== "minmax" && !s.histogram) return [s.min, s.max];
  return rangeOf(s, s.histogram, method, percentile);
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
