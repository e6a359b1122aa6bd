import type { KernelFigure, Measure, ProfileFigures } from "@edgefleet/protocol";
import type { DeviceCapabilities, KernelType } from "./types";

export type { KernelFigure, Measure, ProfileFigures };

/** The part of a stored device profile the planner reads. */
export interface DeviceProfileLike {
  threads: number;
  simulated: boolean;
  /** Simulated class name, "" when real. */
  deviceClass: string;
  figures: ProfileFigures;
}

export interface CapabilitiesOptions {
  /** Class used to share field corrections; defaults to the profile's simulated class. */
  deviceClass?: string;
  /**
   * Which statistic to plan on. Default "best": the fastest of interleaved rounds is what the
   * hardware can do and repeats from one profile to the next on a shared machine, where medians
   * swing with the neighbours' load; how much slower the device runs in service is what the
   * field correction learns.
   */
  statistic?: keyof Measure;
  /** Overrides the profile's memory budget (e.g. a rollout reserving memory for other apps). */
  memoryBudgetBytes?: number;
}

export function capabilitiesFromProfile(
  deviceId: string,
  profile: DeviceProfileLike,
  options: CapabilitiesOptions = {},
): DeviceCapabilities {
  const stat = options.statistic ?? "best";
  const f = profile.figures;
  const opsPerSecond: DeviceCapabilities["opsPerSecond"] = {};
  const kernels: DeviceCapabilities["kernels"] = {};
  for (const [k, fig] of Object.entries(f.kernels) as [KernelType, KernelFigure][]) {
    kernels[k] = fig.status;
    if (fig.status !== "unsupported" && fig.opsPerSecond[stat] > 0) {
      opsPerSecond[k] = fig.opsPerSecond[stat];
    }
  }
  return {
    deviceId,
    deviceClass: options.deviceClass ?? profile.deviceClass,
    threads: profile.threads,
    opsPerSecond,
    kernels,
    memoryBandwidthBytesPerSecond: f.memoryBandwidthBytesPerSecond[stat],
    cacheBandwidthBytesPerSecond: f.cacheBandwidthBytesPerSecond?.[stat],
    cacheBytes: f.cacheBytes,
    runOverheadMs: f.runOverheadMs[stat],
    perOpOverheadMs: f.perOpOverheadMs[stat],
    memoryBudgetBytes: options.memoryBudgetBytes ?? f.memoryBudgetBytes,
    simulated: profile.simulated,
  };
}
