// The int8 static variant from merged calibration ranges: the same quantizer as the catalogue
// (quantizeStatic on the prepared fp32 model, per-channel weights), measured the same way
// (evaluateVariant on the MNIST test split), with the planner cost the CLI's import computes.
import {
  type ActivationRange,
  evaluateVariant,
  loadMnistSplit,
  MNIST_PIXELS,
  prepareForQuantization,
  quantizeStatic,
  staticCalibrationTargets,
} from "@edgefleet/compression";
import { decodeModel, encodeModel } from "@edgefleet/onnx";
import { analyzeVariant } from "@edgefleet/runtime";

export interface ModelInputShape {
  name: string;
  sampleDims: number[];
}

/** The tensors whose ranges devices measure: those quantizeStatic needs for this model. */
export function calibrationTargets(fp32Onnx: Uint8Array): string[] {
  return staticCalibrationTargets(prepareForQuantization(decodeModel(fp32Onnx)));
}

/** Evaluation uses the MNIST test split: models must take one 784-float digit per sample. */
export function evaluableOnMnist(input: ModelInputShape): boolean {
  return input.sampleDims.reduce((a, b) => a * b, 1) === MNIST_PIXELS;
}

export interface BuiltInt8Variant {
  onnx: Uint8Array;
  accuracy: number;
  params: number;
  flopsByOp: Record<string, number>;
  latencyMs: { batch1: number; batch64: number };
  kernels: string[];
  opset: number;
  cost: {
    flops: Record<string, number>;
    opCount: number;
    activationBytes: number;
    runtimeWeightBytes?: number;
  };
}

export async function buildInt8Static(
  fp32Onnx: Uint8Array,
  input: ModelInputShape,
  ranges: ReadonlyMap<string, ActivationRange>,
): Promise<BuiltInt8Variant> {
  const prepared = prepareForQuantization(decodeModel(fp32Onnx));
  const model = quantizeStatic(prepared, ranges, { perChannel: true });
  const onnx = encodeModel(model);
  const split = loadMnistSplit();
  const m = await evaluateVariant(
    onnx,
    onnx,
    { disableQuantQdq: false },
    { input, labelled: split.test, latencyInputs: split.calibration.x },
    { latencyIterations: 10 },
  );
  const cost = await analyzeVariant(onnx);
  const op = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === "ai.onnx");
  return {
    onnx,
    accuracy: m.accuracy ?? 0,
    params: m.parameters,
    flopsByOp: m.flops.byOp,
    latencyMs: { batch1: m.latencyMs.batch1.medianMs, batch64: m.latencyMs.batch64.medianMs },
    kernels: Object.keys(m.kernels.optimizedOps ?? {}),
    opset: Number(op?.version ?? 0),
    cost: {
      flops: cost.flops,
      opCount: cost.opCount,
      activationBytes: cost.activationBytes,
      runtimeWeightBytes: cost.runtimeWeightBytes,
    },
  };
}
