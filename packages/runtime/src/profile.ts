import {
  type DeviceClassName,
  type DeviceClassSpec,
  deviceClass,
  simulateFacts,
  simulateFigures,
} from "./device-classes";
import { type HardwareFacts, readCacheBytes, readHardwareFacts } from "./hardware-facts";
import {
  type BenchResult,
  type KernelFigure,
  type KernelType,
  type Measure,
  type MicrobenchOptions,
  type ProfileFigures,
  runMicrobenchmarks,
} from "./microbench";

/**
 * What an agent reports about itself. `figures` is what the planner plans with; for a simulated
 * class it is derived, and `measured` always holds what this host really measured.
 */
export interface DeviceProfile {
  version: 1;
  measuredAt: string;
  /** Agent build that measured: a new build may bring a new ORT, so it re-profiles. */
  agentVersion: string;
  threads: number;
  simulated: boolean;
  /** Simulated class name, "" when real. */
  deviceClass: string;
  facts: HardwareFacts;
  figures: ProfileFigures;
  measured: ProfileFigures;
  /** The class's stated factors, present only when simulated. */
  simulation?: DeviceClassSpec;
  benchmarks: BenchResult[];
  durationMs: number;
}

export interface MeasureProfileOptions {
  threads: number;
  agentVersion?: string;
  simulatedClass?: DeviceClassName;
  /** Share of available RAM a model may use. Default 0.5: the agent shares the device. */
  memoryBudgetFraction?: number;
  microbench?: Omit<MicrobenchOptions, "threads">;
}

const KERNELS: KernelType[] = ["fp32", "fp16", "int8", "int4"];

/**
 * A kernel is "slow" below 90% of fp32's best: equal kernels (fp16 computed as fp32 on x64)
 * otherwise flip between native and slow with run-to-run noise.
 */
const SLOW_BELOW = 0.9;

/**
 * Each kernel type's figure is its fastest working implementation (e.g. QLinearMatMul vs
 * MatMulInteger for int8). Kernels that failed are unsupported; kernels clearly below fp32's best
 * are slow: a quantized model using them would be smaller but not faster.
 */
export function classifyKernels(results: readonly BenchResult[]): Record<KernelType, KernelFigure> {
  const best = (k: KernelType) =>
    results
      .filter((r) => r.kernel === k && r.ok)
      .sort((a, b) => b.median - a.median || b.best - a.best)[0];
  const fp32 = best("fp32");
  const out = {} as Record<KernelType, KernelFigure>;
  for (const k of KERNELS) {
    const r = best(k);
    if (!r) {
      const errors = results.filter((x) => x.kernel === k).map((x) => `${x.op}: ${x.error}`);
      out[k] = {
        status: "unsupported",
        opsPerSecond: { best: 0, median: 0 },
        detail: errors.length ? errors.join("; ") : "not measured",
      };
      continue;
    }
    const slow = k !== "fp32" && fp32 !== undefined && r.best < fp32.best * SLOW_BELOW;
    out[k] = {
      status: slow ? "slow" : "native",
      opsPerSecond: { best: r.best, median: r.median },
      detail: slow
        ? `${r.op} best ${(r.best / 1e9).toFixed(1)} G/s < fp32 ${(fp32.best / 1e9).toFixed(1)} G/s`
        : `via ${r.op}`,
    };
  }
  return out;
}

export function figuresFromBenchmarks(
  results: readonly BenchResult[],
  modelLoadMs: Measure,
  memoryBudgetBytes: number,
  cacheBytes: number | undefined,
): ProfileFigures {
  const get = (name: string) => results.find((r) => r.name === name && r.ok);
  const measure = (name: string): Measure => {
    const r = get(name);
    return r ? { best: r.best, median: r.median } : { best: 0, median: 0 };
  };
  const run = measure("run-overhead");
  const chain = measure("op-chain-64");
  // 64 Adds minus one Add, per extra op; noise can make the difference negative.
  const perOp = (a: number, b: number) => Math.max(0, (a - b) / 63);
  const cache = get("cache-bandwidth");
  return {
    kernels: classifyKernels(results),
    memoryBandwidthBytesPerSecond: measure("dram-bandwidth"),
    cacheBandwidthBytesPerSecond: cache ? { best: cache.best, median: cache.median } : undefined,
    cacheBytes,
    runOverheadMs: run,
    perOpOverheadMs: { best: perOp(chain.best, run.best), median: perOp(chain.median, run.median) },
    modelLoadMs,
    memoryBudgetBytes,
  };
}

/** Hardware facts plus ORT microbenchmarks at the agent's thread count (about 5-10 s). */
export async function measureProfile(options: MeasureProfileOptions): Promise<DeviceProfile> {
  const t0 = performance.now();
  const spec = options.simulatedClass ? deviceClass(options.simulatedClass) : undefined;
  const hostFacts = await readHardwareFacts();
  const cacheBytes = await readCacheBytes();
  const { report, modelLoadMs } = await runMicrobenchmarks({
    ...options.microbench,
    threads: options.threads,
  });
  const budget = Math.floor(hostFacts.ramFreeBytes * (options.memoryBudgetFraction ?? 0.5));
  const measured = figuresFromBenchmarks(report.results, modelLoadMs, budget, cacheBytes);
  return {
    version: 1,
    measuredAt: new Date().toISOString(),
    agentVersion: options.agentVersion ?? "",
    threads: options.threads,
    simulated: spec !== undefined,
    deviceClass: spec?.name ?? "",
    facts: spec ? simulateFacts(hostFacts, spec) : hostFacts,
    figures: spec ? simulateFigures(measured, spec) : measured,
    measured,
    simulation: spec,
    benchmarks: report.results,
    durationMs: performance.now() - t0,
  };
}

/** A simulated profile for another class from one real measurement (no re-run needed). */
export function deriveSimulatedProfile(
  real: DeviceProfile,
  className: DeviceClassName,
  hostFacts: HardwareFacts = real.facts,
): DeviceProfile {
  if (real.simulated) throw new RangeError("derive simulated profiles from a measured one");
  const spec = deviceClass(className);
  return {
    ...real,
    simulated: true,
    deviceClass: spec.name,
    facts: simulateFacts(hostFacts, spec),
    figures: simulateFigures(real.measured, spec),
    simulation: spec,
  };
}

export { profileStaleness, type StaleReason } from "./staleness";
