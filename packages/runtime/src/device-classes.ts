import type { HardwareFacts } from "./hardware-facts";
import type { KernelType, ProfileFigures } from "./microbench";

export type DeviceClassName = "mcu-gateway" | "rpi4" | "jetson-nano" | "x86-gateway";

/**
 * A simulated device class: the host's measured figures slowed by stated factors, memory capped,
 * and kernels the class lacks removed. Factors are relative to the host that measures, so a
 * simulated rpi4 on a fast server is "this server, 12x slower at fp32" - a stand-in for demos
 * and the fleet simulator, never a claim about a real Raspberry Pi.
 */
export interface DeviceClassSpec {
  name: DeviceClassName;
  description: string;
  /** Times slower than the host per kernel type; null removes the kernel. */
  computeSlowdown: Record<KernelType, number | null>;
  bandwidthSlowdown: number;
  /** Dispatch and per-op overhead grow with a slower core too. */
  overheadSlowdown: number;
  /** Model load (parse, allocate, pre-pack) is mostly single-core work. */
  loadSlowdown: number;
  /** Memory a model may use on the class. */
  memoryCapBytes: number;
  cacheBytes: number;
  /** What the class's hardware facts say. */
  arch: string;
  cores: number;
  ramTotalBytes: number;
  cpuModel: string;
  cpuFlags: string[];
  accelerators: string[];
}

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export const DEVICE_CLASSES: Record<DeviceClassName, DeviceClassSpec> = {
  "mcu-gateway": {
    name: "mcu-gateway",
    description: "microcontroller-class gateway: one slow core, tens of MB, no int4 or fp16",
    computeSlowdown: { fp32: 150, fp16: null, int8: 200, int4: null },
    bandwidthSlowdown: 40,
    overheadSlowdown: 30,
    loadSlowdown: 40,
    memoryCapBytes: 48 * MiB,
    cacheBytes: 0,
    arch: "arm",
    cores: 1,
    ramTotalBytes: 64 * MiB,
    cpuModel: "simulated single-core Cortex-A7-class gateway",
    cpuFlags: ["neon"],
    accelerators: [],
  },
  rpi4: {
    name: "rpi4",
    description: "Raspberry Pi 4 class: 4x Cortex-A72, no dot product (int8 slower than fp32)",
    computeSlowdown: { fp32: 12, fp16: 12, int8: 48, int4: 24 },
    bandwidthSlowdown: 6,
    overheadSlowdown: 5,
    loadSlowdown: 6,
    memoryCapBytes: 1 * GiB,
    cacheBytes: 1 * MiB,
    arch: "arm64",
    cores: 4,
    ramTotalBytes: 4 * GiB,
    cpuModel: "simulated ARM Cortex-A72 (Raspberry Pi 4 class)",
    cpuFlags: ["neon"],
    accelerators: [],
  },
  "jetson-nano": {
    name: "jetson-nano",
    description: "Jetson Nano class, CPU execution: 4x Cortex-A57, GPU not used by the CPU runtime",
    computeSlowdown: { fp32: 10, fp16: 10, int8: 40, int4: 20 },
    bandwidthSlowdown: 4,
    overheadSlowdown: 4,
    loadSlowdown: 5,
    memoryCapBytes: 1.5 * GiB,
    cacheBytes: 2 * MiB,
    arch: "arm64",
    cores: 4,
    ramTotalBytes: 4 * GiB,
    cpuModel: "simulated ARM Cortex-A57 (Jetson Nano class)",
    cpuFlags: ["neon"],
    accelerators: ["nvidia-tegra-gpu"],
  },
  "x86-gateway": {
    name: "x86-gateway",
    description: "fanless x86 gateway: 4 Atom/Celeron-class cores, SSE4.2, no AVX-512 or VNNI",
    computeSlowdown: { fp32: 4, fp16: 4, int8: 12, int4: 6 },
    bandwidthSlowdown: 2,
    overheadSlowdown: 2,
    loadSlowdown: 2,
    memoryCapBytes: 2 * GiB,
    cacheBytes: 4 * MiB,
    arch: "x64",
    cores: 4,
    ramTotalBytes: 8 * GiB,
    cpuModel: "simulated Intel Celeron J4125 class",
    cpuFlags: ["sse4_2"],
    accelerators: [],
  },
};

export const DEVICE_CLASS_NAMES = Object.keys(DEVICE_CLASSES) as DeviceClassName[];

export class UnknownDeviceClassError extends Error {
  override name = "UnknownDeviceClassError";
}

export class KernelUnavailableError extends Error {
  override name = "KernelUnavailableError";
}

export function deviceClass(name: string): DeviceClassSpec {
  const spec = (DEVICE_CLASSES as Record<string, DeviceClassSpec | undefined>)[name];
  if (!spec) {
    throw new UnknownDeviceClassError(
      `unknown device class "${name}" (known: ${DEVICE_CLASS_NAMES.join(", ")})`,
    );
  }
  return spec;
}

/** The class's figures derived from the host's measured ones. */
export function simulateFigures(measured: ProfileFigures, spec: DeviceClassSpec): ProfileFigures {
  const kernels = { ...measured.kernels };
  for (const k of Object.keys(kernels) as KernelType[]) {
    const slow = spec.computeSlowdown[k];
    const m = measured.kernels[k];
    if (slow === null) {
      kernels[k] = {
        status: "unsupported",
        opsPerSecond: { best: 0, median: 0 },
        detail: `removed by simulated class ${spec.name}`,
      };
    } else {
      kernels[k] = { ...m, opsPerSecond: div(m.opsPerSecond, slow) };
    }
  }
  const fp32 = kernels.fp32.opsPerSecond.best;
  for (const k of Object.keys(kernels) as KernelType[]) {
    const f = kernels[k];
    if (k !== "fp32" && f.status === "native" && f.opsPerSecond.best < fp32) {
      kernels[k] = { ...f, status: "slow", detail: `slower than fp32 on simulated ${spec.name}` };
    }
  }
  return {
    kernels,
    memoryBandwidthBytesPerSecond: div(
      measured.memoryBandwidthBytesPerSecond,
      spec.bandwidthSlowdown,
    ),
    cacheBandwidthBytesPerSecond: measured.cacheBandwidthBytesPerSecond
      ? div(measured.cacheBandwidthBytesPerSecond, spec.bandwidthSlowdown)
      : undefined,
    cacheBytes: spec.cacheBytes,
    runOverheadMs: mul(measured.runOverheadMs, spec.overheadSlowdown),
    perOpOverheadMs: mul(measured.perOpOverheadMs, spec.overheadSlowdown),
    modelLoadMs: mul(measured.modelLoadMs, spec.loadSlowdown),
    memoryBudgetBytes: Math.min(measured.memoryBudgetBytes, spec.memoryCapBytes),
  };
}

export function simulateFacts(host: HardwareFacts, spec: DeviceClassSpec): HardwareFacts {
  return {
    arch: spec.arch,
    cores: spec.cores,
    ramTotalBytes: spec.ramTotalBytes,
    ramFreeBytes: Math.min(host.ramFreeBytes, spec.memoryCapBytes),
    cpuModel: spec.cpuModel,
    cpuFlags: [...spec.cpuFlags],
    accelerators: [...spec.accelerators],
    os: host.os,
    simulated: true,
    deviceClass: spec.name,
  };
}

export interface LatencyFigures {
  bestMs: number;
  medianMs: number;
  p90Ms: number;
}

/**
 * A latency measured on the host, restated for a simulated class. The measured base figures stay
 * alongside, so telemetry can never pass the derived numbers off as measured.
 */
export interface SimulatedLatency extends LatencyFigures {
  simulated: true;
  deviceClass: DeviceClassName;
  factor: number;
  measured: LatencyFigures;
}

/** Scales by the slowdown of the kernel type doing most of the work. */
export function simulateLatency(
  measured: LatencyFigures,
  spec: DeviceClassSpec,
  kernel: KernelType,
): SimulatedLatency {
  const factor = spec.computeSlowdown[kernel];
  if (factor === null) {
    throw new KernelUnavailableError(`simulated class ${spec.name} cannot run ${kernel} kernels`);
  }
  return {
    bestMs: measured.bestMs * factor,
    medianMs: measured.medianMs * factor,
    p90Ms: measured.p90Ms * factor,
    simulated: true,
    deviceClass: spec.name,
    factor,
    measured: { bestMs: measured.bestMs, medianMs: measured.medianMs, p90Ms: measured.p90Ms },
  };
}

function div(m: { best: number; median: number }, f: number) {
  return { best: m.best / f, median: m.median / f };
}

function mul(m: { best: number; median: number }, f: number) {
  return { best: m.best * f, median: m.median * f };
}
