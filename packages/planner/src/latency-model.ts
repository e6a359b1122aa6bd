import { type DeviceCapabilities, KERNEL_TYPES, type KernelType, type VariantCost } from "./types";

export type LatencyBound = "compute" | "memory" | "overhead";

export interface LatencyBreakdown {
  /** Predicted latency of one run at the given batch, before any field correction. */
  totalMs: number;
  computeMs: number;
  memoryMs: number;
  overheadMs: number;
  /** Which term decided the prediction. */
  bound: LatencyBound;
  /** The kernel type doing most of the arithmetic: the key field corrections are fitted by. */
  dominantKernel: KernelType;
  /** Kernel types the variant needs that the device cannot run. */
  unsupported: KernelType[];
}

/**
 * A variant flattened for the hot loop: planning 100k devices x 30 variants must not walk
 * object keys per evaluation.
 */
export interface CompiledVariant {
  readonly source: VariantCost;
  readonly id: string;
  readonly name: string;
  /** FLOPs per sample, indexed like KERNEL_TYPES. */
  readonly flops: Float64Array;
  /** Bit i set when KERNEL_TYPES[i] has work. */
  readonly kernelMask: number;
  readonly dominantKernel: KernelType;
  readonly dominantIndex: number;
  readonly opCount: number;
  readonly artifactBytes: number;
  readonly weightBytes: number;
  readonly activationBytes: number;
  readonly accuracy: number;
}

export function compileVariant(v: VariantCost): CompiledVariant {
  const flops = new Float64Array(KERNEL_TYPES.length);
  let mask = 0;
  let dominant = 0;
  let most = -1;
  KERNEL_TYPES.forEach((k, i) => {
    const f = v.flops[k] ?? 0;
    flops[i] = f;
    if (f > 0) mask |= 1 << i;
    if (f > most) {
      most = f;
      dominant = i;
    }
  });
  return {
    source: v,
    id: v.id,
    name: v.name ?? v.id,
    flops,
    kernelMask: mask,
    dominantKernel: KERNEL_TYPES[dominant],
    dominantIndex: dominant,
    opCount: v.opCount,
    artifactBytes: v.artifactBytes,
    weightBytes: v.runtimeWeightBytes ?? v.artifactBytes,
    activationBytes: v.activationBytes,
    accuracy: v.accuracy,
  };
}

export interface CompiledDevice {
  readonly source: DeviceCapabilities;
  /** Seconds per op, indexed like KERNEL_TYPES; unknown throughput borrows fp32's. */
  readonly secondsPerOp: Float64Array;
  /** Bit i set when KERNEL_TYPES[i] cannot run on this device. */
  readonly unsupportedMask: number;
  readonly memoryBandwidth: number;
  readonly cacheBandwidth: number;
  readonly cacheBytes: number;
  readonly runOverheadMs: number;
  readonly perOpOverheadMs: number;
}

export function compileDevice(d: DeviceCapabilities): CompiledDevice {
  return compileDeviceInto(d, {
    source: d,
    secondsPerOp: new Float64Array(KERNEL_TYPES.length),
    unsupportedMask: 0,
    memoryBandwidth: 0,
    cacheBandwidth: 0,
    cacheBytes: 0,
    runOverheadMs: 0,
    perOpOverheadMs: 0,
  });
}

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Fills a reused CompiledDevice: the planner's per-device loop allocates nothing here. */
export function compileDeviceInto(
  d: DeviceCapabilities,
  out: Mutable<CompiledDevice>,
): CompiledDevice {
  const fp32 = positive(d.opsPerSecond.fp32) ?? 1e9;
  let unsupported = 0;
  for (let i = 0; i < KERNEL_TYPES.length; i++) {
    const k = KERNEL_TYPES[i];
    const support = d.kernels[k] ?? (k === "fp32" ? "native" : "unsupported");
    if (support === "unsupported") unsupported |= 1 << i;
    out.secondsPerOp[i] = 1 / (positive(d.opsPerSecond[k]) ?? fp32);
  }
  const memoryBandwidth = positive(d.memoryBandwidthBytesPerSecond) ?? 1e9;
  out.source = d;
  out.unsupportedMask = unsupported;
  out.memoryBandwidth = memoryBandwidth;
  out.cacheBandwidth = positive(d.cacheBandwidthBytesPerSecond) ?? memoryBandwidth;
  out.cacheBytes = d.cacheBytes ?? 0;
  out.runOverheadMs = d.runOverheadMs;
  out.perOpOverheadMs = d.perOpOverheadMs;
  return out;
}

export const BOUNDS: readonly LatencyBound[] = ["compute", "memory", "overhead"];

/**
 * Roofline-like: arithmetic and memory traffic overlap, so the slower of the two counts, and
 * dispatch overhead adds on top. Weights are read once per run; activations once per sample.
 * `factors` (indexed kernel * 3 + bound) are field corrections; see `Planner`.
 */
export function predictCompiledMs(
  v: CompiledVariant,
  d: CompiledDevice,
  batch: number,
  factors?: Float64Array,
): number {
  const f = v.flops;
  const s = d.secondsPerOp;
  const computeMs = (f[0] * s[0] + f[1] * s[1] + f[2] * s[2] + f[3] * s[3]) * batch * 1000;
  const bytes = v.weightBytes + v.activationBytes * batch;
  const bw = bytes <= d.cacheBytes ? d.cacheBandwidth : d.memoryBandwidth;
  const memoryMs = (bytes / bw) * 1000;
  const overheadMs = d.runOverheadMs + v.opCount * d.perOpOverheadMs;
  const roof = Math.max(computeMs, memoryMs);
  const raw = roof + overheadMs;
  if (!factors) return raw;
  const bound = overheadMs > roof ? 2 : computeMs >= memoryMs ? 0 : 1;
  return raw * factors[v.dominantIndex * 3 + bound];
}

export function predictLatency(
  variant: VariantCost | CompiledVariant,
  device: DeviceCapabilities | CompiledDevice,
  batch = 1,
): LatencyBreakdown {
  const v = "source" in variant ? variant : compileVariant(variant);
  const d = "secondsPerOp" in device ? device : compileDevice(device);
  let computeS = 0;
  for (let i = 0; i < KERNEL_TYPES.length; i++) computeS += v.flops[i] * d.secondsPerOp[i];
  computeS *= batch;
  const computeMs = computeS * 1000;
  const memoryMs = (bytesMoved(v, batch) / bandwidthFor(v, d, batch)) * 1000;
  const overheadMs = d.runOverheadMs + v.opCount * d.perOpOverheadMs;
  const roof = Math.max(computeMs, memoryMs);
  let bound: LatencyBound = computeMs >= memoryMs ? "compute" : "memory";
  if (overheadMs > roof) bound = "overhead";
  const unsupported = KERNEL_TYPES.filter((_, i) => v.kernelMask & d.unsupportedMask & (1 << i));
  return {
    totalMs: roof + overheadMs,
    computeMs,
    memoryMs,
    overheadMs,
    bound,
    dominantKernel: v.dominantKernel,
    unsupported,
  };
}

function bytesMoved(v: CompiledVariant, batch: number): number {
  return v.weightBytes + v.activationBytes * batch;
}

function bandwidthFor(v: CompiledVariant, d: CompiledDevice, batch: number): number {
  return bytesMoved(v, batch) <= d.cacheBytes ? d.cacheBandwidth : d.memoryBandwidth;
}

function positive(x: number | undefined): number | undefined {
  return x !== undefined && Number.isFinite(x) && x > 0 ? x : undefined;
}
