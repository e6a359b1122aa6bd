import type { CompiledVariant } from "./latency-model";
import type { VariantCost } from "./types";

export interface MemoryModelOptions {
  /**
   * Resident cost of the runtime itself with one session open: the first ORT 1.30 CPU session
   * on the bench machine added 29 MB of RSS for a 1 MB model (thread pool, arenas, kernels).
   */
  runtimeBaseBytes: number;
  /**
   * Copies of the weights alive while serving: the parsed initializers plus MLAS's pre-packed
   * GEMM operands; the file bytes are dropped after the session is created. Measured: further
   * sessions added 2.4-2.5x their (runtime) weight bytes, activations included.
   */
  weightCopies: number;
  /** Live activation buffers per sample relative to the peak tensor (input + output of a node). */
  activationCopies: number;
}

export const DEFAULT_MEMORY_MODEL: MemoryModelOptions = {
  runtimeBaseBytes: 28 * 2 ** 20,
  weightCopies: 2,
  activationCopies: 2,
};

export interface MemoryEstimate {
  totalBytes: number;
  weightBytes: number;
  runtimeBytes: number;
  activationBytes: number;
}

export function estimateMemory(
  variant: Pick<VariantCost, "artifactBytes" | "runtimeWeightBytes" | "activationBytes">,
  batch = 1,
  options: MemoryModelOptions = DEFAULT_MEMORY_MODEL,
): MemoryEstimate {
  const weightBytes = (variant.runtimeWeightBytes ?? variant.artifactBytes) * options.weightCopies;
  const activationBytes = variant.activationBytes * options.activationCopies * batch;
  const runtimeBytes = options.runtimeBaseBytes;
  return {
    totalBytes: weightBytes + activationBytes + runtimeBytes,
    weightBytes,
    runtimeBytes,
    activationBytes,
  };
}

export function compiledMemoryBytes(
  v: CompiledVariant,
  batch: number,
  options: MemoryModelOptions,
): number {
  return (
    v.weightBytes * options.weightCopies +
    v.activationBytes * options.activationCopies * batch +
    options.runtimeBaseBytes
  );
}
