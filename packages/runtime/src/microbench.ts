import * as ort from "onnxruntime-node";
import {
  addChainModel,
  matmulFp16Model,
  matmulFp32Model,
  matmulIntegerModel,
  matmulNBitsModel,
  qlinearMatmulModel,
  reduceSumModel,
} from "./microbench-graphs";
import { createSession, type Feeds, type Session, summarizeLatency } from "./session";

// These mirror @edgefleet/planner's ProfileFigures so profiles feed the planner as they are;
// the runtime does not import the planner (the planner's benchmarks import the runtime).
export type KernelType = "fp32" | "fp16" | "int8" | "int4";
export type KernelSupport = "native" | "slow" | "unsupported";
export interface Measure {
  best: number;
  median: number;
}
export interface KernelFigure {
  status: KernelSupport;
  opsPerSecond: Measure;
  detail?: string;
}
export interface ProfileFigures {
  kernels: Record<KernelType, KernelFigure>;
  memoryBandwidthBytesPerSecond: Measure;
  cacheBandwidthBytesPerSecond?: Measure;
  cacheBytes?: number;
  runOverheadMs: Measure;
  perOpOverheadMs: Measure;
  modelLoadMs: Measure;
  memoryBudgetBytes: number;
}

/** One microbenchmark as it ran: what it measured, how often, and whether it ran at all. */
export interface BenchResult {
  name: string;
  kernel?: KernelType;
  /** ONNX op(s) exercised, e.g. "MatMulInteger". */
  op: string;
  unit: "FLOP/s" | "OP/s" | "B/s" | "ms";
  best: number;
  median: number;
  iterations: number;
  ok: boolean;
  error?: string;
}

export interface MicrobenchOptions {
  threads: number;
  /** Square GEMM size for the throughput tests. Default 512. */
  gemmSize?: number;
  /** Bytes streamed by the bandwidth test; larger than any cache. Default 64 MiB. */
  dramBytes?: number;
  /** Working set of the cache-bandwidth test. Default 1 MiB. */
  cacheTestBytes?: number;
  /** Wall-clock cap per benchmark's timed loop. Default 700 ms. */
  budgetMs?: number;
  /** Timed runs per benchmark (fewer if the budget runs out; at least 3). Default 15. */
  iterations?: number;
}

export interface MicrobenchReport {
  threads: number;
  results: BenchResult[];
  durationMs: number;
}

interface Spec {
  name: string;
  kernel?: KernelType;
  op: string;
  unit: BenchResult["unit"];
  /** Work per run (FLOP, OP or bytes); 0 for pure timings. */
  work: number;
  model: () => Uint8Array;
  feeds: () => Feeds;
  graphOptimization?: "disabled" | "basic" | "extended" | "all";
}

export function benchmarkSpecs(o: Required<Omit<MicrobenchOptions, "threads">>): Spec[] {
  const s = o.gemmSize;
  const gemm = 2 * s * s * s;
  const f32 = () => ({ A: new ort.Tensor("float32", new Float32Array(s * s).fill(0.5), [s, s]) });
  const u8 = () => ({ A: new ort.Tensor("uint8", new Uint8Array(s * s).fill(130), [s, s]) });
  const f16 = () => ({ A: new ort.Tensor("float16", new Uint16Array(s * s).fill(0x3800), [s, s]) });
  const axes = () => ({ axes: new ort.Tensor("int64", BigInt64Array.from([1n]), [1]) });
  const tiny = () => ({ X: new ort.Tensor("float32", new Float32Array(16), [1, 16]) });
  return [
    {
      name: "fp32-matmul",
      kernel: "fp32",
      op: "MatMul",
      unit: "FLOP/s",
      work: gemm,
      model: () => matmulFp32Model(s, s, s),
      feeds: f32,
    },
    {
      name: "fp16-matmul",
      kernel: "fp16",
      op: "MatMul(fp16)",
      unit: "FLOP/s",
      work: gemm,
      model: () => matmulFp16Model(s, s, s),
      feeds: f16,
    },
    {
      name: "int8-matmulinteger",
      kernel: "int8",
      op: "MatMulInteger",
      unit: "OP/s",
      work: gemm,
      model: () => matmulIntegerModel(s, s, s),
      feeds: u8,
    },
    {
      name: "int8-qlinearmatmul",
      kernel: "int8",
      op: "QLinearMatMul",
      unit: "OP/s",
      work: gemm,
      model: () => qlinearMatmulModel(s, s, s),
      feeds: u8,
    },
    {
      name: "int4-matmulnbits",
      kernel: "int4",
      op: "MatMulNBits(acc 0)",
      unit: "OP/s",
      work: gemm,
      model: () => matmulNBitsModel(s, s, s, 0),
      feeds: f32,
    },
    {
      name: "int4-matmulnbits-int8",
      kernel: "int4",
      op: "MatMulNBits(acc 4)",
      unit: "OP/s",
      work: gemm,
      model: () => matmulNBitsModel(s, s, s, 4),
      feeds: f32,
    },
    {
      name: "dram-bandwidth",
      op: "ReduceSum",
      unit: "B/s",
      work: o.dramBytes,
      model: () => reduceSumModel(o.dramBytes),
      feeds: axes,
      graphOptimization: "basic",
    },
    {
      name: "cache-bandwidth",
      op: "ReduceSum",
      unit: "B/s",
      work: o.cacheTestBytes,
      model: () => reduceSumModel(o.cacheTestBytes),
      feeds: axes,
      graphOptimization: "basic",
    },
    {
      name: "run-overhead",
      op: "Add x1",
      unit: "ms",
      work: 0,
      model: () => addChainModel(1),
      feeds: tiny,
      graphOptimization: "basic",
    },
    {
      name: "op-chain-64",
      op: "Add x64",
      unit: "ms",
      work: 0,
      model: () => addChainModel(64),
      feeds: tiny,
      graphOptimization: "basic",
    },
  ];
}

/** Runs a session until `iterations` timed runs or the budget is spent (at least 3 runs). */
export async function timeRuns(
  session: Session,
  feeds: Feeds,
  iterations: number,
  budgetMs: number,
): Promise<number[]> {
  for (let i = 0; i < 2; i++) await session.run(feeds);
  const times: number[] = [];
  const start = performance.now();
  while (times.length < iterations && (times.length < 3 || performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  return times;
}

async function runSpec(spec: Spec, threads: number, iterations: number, budgetMs: number) {
  const base = { name: spec.name, kernel: spec.kernel, op: spec.op, unit: spec.unit };
  let session: Session | undefined;
  try {
    session = await createSession(spec.model(), {
      threads,
      graphOptimization: spec.graphOptimization,
    });
    const t = summarizeLatency(await timeRuns(session, spec.feeds(), iterations, budgetMs));
    const rate = (ms: number) => (spec.work > 0 ? spec.work / (ms / 1000) : ms);
    // For rates the fastest run is the best; for timings the shortest.
    const best = rate(t.bestMs);
    const median = rate(t.medianMs);
    return { ...base, best, median, iterations: t.samples, ok: true } satisfies BenchResult;
  } catch (cause) {
    const error = (cause instanceof Error ? cause.message : String(cause)).split("\n")[0];
    return { ...base, best: 0, median: 0, iterations: 0, ok: false, error } satisfies BenchResult;
  } finally {
    await session?.release();
  }
}

/** Times a session's creation: what loading a model costs on this device. */
export async function measureModelLoad(threads: number, gemmSize: number, runs = 3) {
  const bytes = matmulFp32Model(gemmSize, gemmSize, gemmSize);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const s = await createSession(bytes, { threads });
    times.push(performance.now() - t0);
    await s.release();
  }
  const t = summarizeLatency(times);
  return { best: t.bestMs, median: t.medianMs };
}

export async function runMicrobenchmarks(options: MicrobenchOptions): Promise<{
  report: MicrobenchReport;
  modelLoadMs: Measure;
}> {
  const o = {
    gemmSize: options.gemmSize ?? 512,
    dramBytes: options.dramBytes ?? 64 * 2 ** 20,
    cacheTestBytes: options.cacheTestBytes ?? 2 ** 20,
    budgetMs: options.budgetMs ?? 700,
    iterations: options.iterations ?? 15,
  };
  const t0 = performance.now();
  const results: BenchResult[] = [];
  for (const spec of benchmarkSpecs(o)) {
    results.push(await runSpec(spec, options.threads, o.iterations, o.budgetMs));
  }
  const modelLoadMs = await measureModelLoad(options.threads, o.gemmSize);
  return {
    report: { threads: options.threads, results, durationMs: performance.now() - t0 },
    modelLoadMs,
  };
}
