// What a virtual device says about itself: hardware facts and a profile of its simulated class,
// derived from one set of reference host figures the way the agent derives a simulated class
// from what its host measured (@edgefleet/runtime simulateFacts / simulateFigures). No
// microbenchmark runs: the figures are stated, and the profile says it came from the simulator.
import type { DeviceProfileJson, HardwareFactsJson, ProfileFigures } from "@edgefleet/protocol";
import {
  type DeviceClassSpec,
  type HardwareFacts,
  simulateFacts,
  simulateFigures,
} from "@edgefleet/runtime/facts";

const GiB = 2 ** 30;
const m = (best: number, median = best) => ({ best, median });

/** Round figures of a fast x86 host (AVX-512 VNNI class); what the simulated classes slow down. */
export const DEFAULT_HOST_FIGURES: ProfileFigures = {
  kernels: {
    fp32: { status: "native", opsPerSecond: m(150e9, 130e9), detail: "stated by fleet-sim" },
    fp16: { status: "native", opsPerSecond: m(150e9, 130e9), detail: "stated by fleet-sim" },
    int8: { status: "native", opsPerSecond: m(450e9, 400e9), detail: "stated by fleet-sim" },
    int4: { status: "native", opsPerSecond: m(300e9, 260e9), detail: "stated by fleet-sim" },
  },
  memoryBandwidthBytesPerSecond: m(25e9, 22e9),
  cacheBandwidthBytesPerSecond: m(120e9, 100e9),
  cacheBytes: 32 * 2 ** 20,
  runOverheadMs: m(0.01, 0.012),
  perOpOverheadMs: m(0.002, 0.0025),
  modelLoadMs: m(5, 6),
  memoryBudgetBytes: 4 * GiB,
};

export function simulatedFacts(host: HardwareFacts, spec: DeviceClassSpec): HardwareFactsJson {
  return simulateFacts(host, spec);
}

export function simulatedProfile(
  facts: HardwareFactsJson,
  spec: DeviceClassSpec,
  host: ProfileFigures = DEFAULT_HOST_FIGURES,
): DeviceProfileJson {
  return {
    version: 1,
    measuredAt: new Date().toISOString(),
    threads: spec.cores,
    simulated: true,
    deviceClass: spec.name,
    facts,
    figures: simulateFigures(host, spec),
    measured: host,
    simulation: { ...spec, source: "fleet-sim: stated host figures, nothing measured" },
    benchmarks: [],
    durationMs: 0,
  };
}
