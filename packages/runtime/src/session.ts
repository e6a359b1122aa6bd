import * as ort from "onnxruntime-node";

export type Session = ort.InferenceSession;
export type Feeds = Record<string, ort.Tensor>;
export { Tensor } from "onnxruntime-node";

export interface CreateSessionOptions {
  /** intra-op threads; 1 gives the most repeatable latency on shared machines. */
  threads?: number;
  /**
   * Sets `session.disable_quant_qdq=1`: ORT then folds weight-only DequantizeLinear nodes into
   * float weights at load instead of running them per call (weight-only formats save bytes only).
   */
  disableQuantQdq?: boolean;
  graphOptimization?: "disabled" | "basic" | "extended" | "all";
  /** Where ORT writes the graph it will actually run (after fusions): used to report kernels. */
  optimizedModelFilePath?: string;
  /** Enables ORT's per-node profiler; the JSON goes to `<prefix>_<timestamp>.json`. */
  profileFilePrefix?: string;
  /** Extra `session.*` config entries passed through unchanged. */
  config?: Record<string, string>;
}

export class SessionCreateError extends Error {
  override name = "SessionCreateError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface OutputTensor {
  type: string;
  dims: readonly number[];
  data: ort.Tensor["data"];
}

export async function createSession(
  modelBytes: Uint8Array,
  options: CreateSessionOptions = {},
): Promise<Session> {
  const sessionConfig: Record<string, string> = { ...options.config };
  if (options.disableQuantQdq) sessionConfig.disable_quant_qdq = "1";
  const ortOptions: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.graphOptimization ?? "all",
    executionMode: "sequential",
    interOpNumThreads: 1,
    logSeverityLevel: 3,
    extra: { session: sessionConfig },
  };
  if (options.threads !== undefined) ortOptions.intraOpNumThreads = options.threads;
  if (options.optimizedModelFilePath) {
    ortOptions.optimizedModelFilePath = options.optimizedModelFilePath;
  }
  if (options.profileFilePrefix) {
    ortOptions.enableProfiling = true;
    ortOptions.profileFilePrefix = options.profileFilePrefix;
  }
  try {
    return await ort.InferenceSession.create(modelBytes, ortOptions);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new SessionCreateError(`ONNX Runtime could not load the model: ${firstLine(detail)}`, {
      cause,
    });
  }
}

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

export async function run(session: Session, feeds: Feeds): Promise<Record<string, OutputTensor>> {
  const results = await session.run(feeds);
  const out: Record<string, OutputTensor> = {};
  for (const [name, t] of Object.entries(results)) {
    out[name] = { type: t.type, dims: [...t.dims], data: t.data };
  }
  return out;
}

/** Runs one float32 batch through a single-input model and returns every output. */
export function runBatch(
  session: Session,
  inputName: string,
  data: Float32Array,
  dims: readonly number[],
): Promise<Record<string, OutputTensor>> {
  return run(session, { [inputName]: floatTensor(data, dims) });
}

export interface LatencyOptions {
  warmup?: number;
  iterations?: number;
}

export interface LatencyStats {
  bestMs: number;
  medianMs: number;
  p90Ms: number;
  samples: number;
}

export async function measureLatency(
  session: Session,
  feeds: Feeds,
  options: LatencyOptions = {},
): Promise<LatencyStats> {
  const warmup = options.warmup ?? 5;
  const iterations = Math.max(1, options.iterations ?? 30);
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return summarizeLatency(times);
}

export function summarizeLatency(timesMs: readonly number[]): LatencyStats {
  if (timesMs.length === 0) throw new RangeError("no latency samples");
  const sorted = [...timesMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { bestMs: sorted[0], medianMs: median, p90Ms: at(0.9), samples: sorted.length };
}

function firstLine(s: string): string {
  return s.split("\n")[0].trim();
}
