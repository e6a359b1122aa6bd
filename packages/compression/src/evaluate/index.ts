import { decodeModel } from "@edgefleet/onnx";
import type { LatencyStats } from "@edgefleet/runtime";
import { constantsToInitializers } from "../quantize/weights";
import {
  accuracyOfLogits,
  countParameters,
  type Fidelity,
  fidelity,
  flopsByOp,
  sha256Hex,
} from "./metrics";
import {
  type KernelReport,
  kernelReport,
  latencyAt,
  type ModelInput,
  openVariant,
  predictAll,
  probeShapes,
} from "./run";

export * from "./metrics";
export * from "./run";

export interface EvaluationData {
  input: ModelInput;
  /** labelled held-out split: accuracy */
  labelled?: { x: Float32Array; y: Uint8Array; n: number };
  /** unlabelled inputs with the base model's outputs on them: fidelity */
  reference?: { x: Float32Array; n: number; baseOutput: Float32Array };
  /** the first output is already a probability distribution (ends in Softmax) */
  outputsAreProbabilities?: boolean;
  /** inputs cycled to fill latency batches */
  latencyInputs: Float32Array;
}

export interface VariantMetrics {
  accuracy?: number;
  fidelity?: Fidelity;
  latencyMs: { batch1: LatencyStats; batch64: LatencyStats };
  parameters: number;
  flops: { total: number; byOp: Record<string, number> };
  bytes: { onnx: number; shipped: number };
  sha256: string;
  kernels: KernelReport;
}

export interface EvaluateOptions {
  latencyIterations?: number;
  threads?: number;
  batchSizes?: readonly [number, number];
}

/**
 * Measures one variant: accuracy and/or fidelity, latency at batch 1 and 64 (best and median
 * of N), parameters, FLOPs by op type, bytes as ONNX and as shipped, sha256 of the shipped
 * artifact, and the kernels ONNX Runtime ran.
 */
export async function evaluateVariant(
  onnx: Uint8Array,
  shipped: Uint8Array,
  runtime: { disableQuantQdq: boolean },
  data: EvaluationData,
  options: EvaluateOptions = {},
): Promise<VariantMetrics> {
  const model = decodeModel(onnx);
  // paddle2onnx-style graphs keep weights in Constant nodes: count them as initializers.
  constantsToInitializers(model);
  const graph = model.graph ?? {};
  const session = await openVariant(onnx, runtime, options.threads ?? 1);
  const [b1, b64] = options.batchSizes ?? [1, 64];
  const iterations = options.latencyIterations ?? 30;
  try {
    let accuracy: number | undefined;
    let fid: Fidelity | undefined;
    if (data.labelled) {
      const { data: out, rowSize } = await predictAll(
        session,
        data.input,
        data.labelled.x,
        data.labelled.n,
      );
      accuracy = accuracyOfLogits(out, data.labelled.y, data.labelled.n, rowSize);
    }
    if (data.reference) {
      const { data: out, rowSize } = await predictAll(
        session,
        data.input,
        data.reference.x,
        data.reference.n,
      );
      fid = fidelity(
        data.reference.baseOutput,
        out,
        out.length / rowSize,
        rowSize,
        !data.outputsAreProbabilities,
      );
    }
    const batch1 = await latencyAt(session, data.input, data.latencyInputs, b1, iterations);
    const batch64 = await latencyAt(
      session,
      data.input,
      data.latencyInputs,
      b64,
      Math.max(5, iterations >> 1),
    );
    const byOp = flopsByOp(graph, await probeShapes(model, data.input));
    return {
      accuracy,
      fidelity: fid,
      latencyMs: { batch1, batch64 },
      parameters: countParameters(graph),
      flops: { total: Object.values(byOp).reduce((a, b) => a + b, 0), byOp },
      bytes: { onnx: onnx.length, shipped: shipped.length },
      sha256: sha256Hex(shipped),
      kernels: await kernelReport(onnx, data.input, {
        threads: options.threads ?? 1,
        disableQuantQdq: runtime.disableQuantQdq,
      }),
    };
  } finally {
    await session.release();
  }
}
