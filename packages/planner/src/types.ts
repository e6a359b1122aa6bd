// Kernel types and their support levels are the wire schema's (@edgefleet/protocol); the
// planner imports them as types only and stays free of IO.
import type { KernelSupport, KernelType } from "@edgefleet/protocol";

export type { KernelSupport, KernelType };

export const KERNEL_TYPES: readonly KernelType[] = ["fp32", "fp16", "int8", "int4"];

/** A variant as the planner sees it: cost at batch 1 plus the measured facts that matter. */
export interface VariantCost {
  id: string;
  /** Short name people read in reasons, e.g. "int4-b32"; defaults to `id`. */
  name?: string;
  /** Top-1 accuracy (or fidelity) in [0, 1]. */
  accuracy: number;
  /** Size of the artifact the device loads. */
  artifactBytes: number;
  /**
   * Weight bytes resident and read per run once loaded, when they differ from the artifact
   * (fp16 weights that ORT's CPU build folds to fp32 at load occupy twice their file size).
   */
  runtimeWeightBytes?: number;
  params?: number;
  /** FLOPs (or integer OPs) per sample, by the kernel type that executes them. */
  flops: Partial<Record<KernelType, number>>;
  /** Graph nodes executed per run: each costs a fixed dispatch overhead. */
  opCount: number;
  /** Peak intermediate activation bytes per sample. */
  activationBytes: number;
}

/** Figures the planner needs from a device's profile, at the thread count it will run with. */
export interface DeviceCapabilities {
  deviceId: string;
  /** Class whose field measurements inform this device's correction ("" for none). */
  deviceClass: string;
  threads: number;
  /** Sustained throughput in ops/s per kernel type (FLOP/s for floats, OP/s for integers). */
  opsPerSecond: Partial<Record<KernelType, number>>;
  kernels: Partial<Record<KernelType, KernelSupport>>;
  /** Streaming bandwidth out of main memory. */
  memoryBandwidthBytesPerSecond: number;
  /** Bandwidth when the working set fits in cache; falls back to memory bandwidth. */
  cacheBandwidthBytesPerSecond?: number;
  cacheBytes?: number;
  /** Fixed cost of one `run()` call (binding, dispatch, thread wake-up). */
  runOverheadMs: number;
  /** Extra cost per executed graph node. */
  perOpOverheadMs: number;
  /** Memory a model may use on this device. */
  memoryBudgetBytes: number;
  simulated?: boolean;
}

export const DEFAULT_ACCURACY_TIE = 0.0005;

export type Objective = "max-accuracy" | "min-latency" | "min-bytes";

export interface PlanPolicy {
  latencySloMs: number;
  /** Batch the rollout runs at; latency and activations scale with it. Default 1. */
  batch?: number;
  /** Lowest acceptable accuracy in [0, 1]. Default 0. */
  accuracyFloor?: number;
  /** Default "max-accuracy" (ties go to the fastest). */
  objective?: Objective;
  /**
   * Accuracies closer than this count as a tie. Default 0.0005: 5 images of a 10,000-image
   * evaluation set, below what the set can tell apart.
   */
  accuracyTie?: number;
}

export type Constraint = "kernels" | "memory" | "accuracy" | "latency";

/** One failed constraint of one variant on one device, with the numbers behind it. */
export interface Violation {
  constraint: Constraint;
  /** The variant's value (predicted ms, bytes needed, accuracy); for kernels, 0. */
  value: number;
  /** The limit it was held to (SLO ms, budget bytes, floor). */
  limit: number;
  /** Kernel types the device cannot run (constraint "kernels" only). */
  kernels?: KernelType[];
}

export interface CandidateEvaluation {
  variantId: string;
  name: string;
  accuracy: number;
  predictedMs: number;
  memoryBytes: number;
  artifactBytes: number;
  violations: Violation[];
}

export interface PlanDecision {
  deviceId: string;
  /** Chosen variant id, or null when nothing satisfies the policy. */
  variantId: string | null;
  /** The chosen variant's evaluation, or the nearest miss when nothing fits. */
  chosen: CandidateEvaluation | null;
  nearest: CandidateEvaluation | null;
  /** Variants the objective prefers over the choice, and why each was excluded. */
  rejected: CandidateEvaluation[];
  /** Sentences a person can read: the choice first, then each preferred variant's failure. */
  reasons: string[];
}
