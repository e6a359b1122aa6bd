// A device profile without measuring: a reference host's figures (a 2-core Zen 5 machine like the
// project's, rounded from its measured profile) restated for a simulated class. For simulators and
// tests that need devices the planner can plan; marked simulated, with no benchmarks, so it can
// never pass for a measurement.
import {
  type DeviceClassName,
  deviceClass,
  simulateFacts,
  simulateFigures,
} from "./device-classes";
import type { HardwareFacts } from "./hardware-facts";
import type { ProfileFigures } from "./microbench";
import type { DeviceProfile } from "./profile";

const m = (median: number, best = median * 1.1) => ({ best, median });

export const REFERENCE_HOST_FIGURES: ProfileFigures = {
  kernels: {
    fp32: { status: "native", opsPerSecond: m(150e9) },
    // ORT computes fp16 weights in fp32 on x64 CPU.
    fp16: { status: "slow", opsPerSecond: m(120e9) },
    int8: { status: "native", opsPerSecond: m(500e9) },
    int4: { status: "native", opsPerSecond: m(160e9) },
  },
  memoryBandwidthBytesPerSecond: m(27e9),
  cacheBandwidthBytesPerSecond: m(120e9),
  cacheBytes: 32 * 2 ** 20,
  runOverheadMs: m(0.01),
  perOpOverheadMs: m(0.002),
  modelLoadMs: m(5),
  memoryBudgetBytes: 8 * 2 ** 30,
};

export const REFERENCE_HOST_FACTS: HardwareFacts = {
  arch: "x64",
  cores: 2,
  ramTotalBytes: 24 * 2 ** 30,
  ramFreeBytes: 16 * 2 ** 30,
  cpuModel: "reference host (not measured)",
  cpuFlags: ["avx2", "avx512f", "avx512_vnni"],
  accelerators: [],
  os: "linux",
  simulated: false,
  deviceClass: "",
};

export function referenceProfile(
  className: DeviceClassName,
  opts: { threads?: number; agentVersion?: string; measuredAt?: Date } = {},
): DeviceProfile {
  const spec = deviceClass(className);
  return {
    version: 1,
    measuredAt: (opts.measuredAt ?? new Date()).toISOString(),
    agentVersion: opts.agentVersion ?? "",
    threads: opts.threads ?? 1,
    simulated: true,
    deviceClass: spec.name,
    facts: simulateFacts(REFERENCE_HOST_FACTS, spec),
    figures: simulateFigures(REFERENCE_HOST_FIGURES, spec),
    measured: REFERENCE_HOST_FIGURES,
    simulation: spec,
    benchmarks: [],
    durationMs: 0,
  };
}
