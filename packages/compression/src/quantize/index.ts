import { encodeModel, type ModelProto } from "@edgefleet/onnx";
import { createSession, SessionCreateError } from "@edgefleet/runtime";
import { type CalibrationBatch, type CalibrationMethod, calibrate } from "./calibrate";
import { quantizeDynamic } from "./dynamic";
import { toFp16Full, toFp16Weights } from "./fp16";
import { quantizeInt4 } from "./int4";
import { prepareForQuantization } from "./prepare";
import { staticSensitivity } from "./sensitivity";
import { quantizeStatic, staticCalibrationTargets } from "./static";
import { type CpuTarget, int8ReduceRange } from "./target";
import { quantizeWeightsFp8, quantizeWeightsInt8 } from "./weight-only";

export * from "./calibrate";
export * from "./calibration-stats";
export * from "./dynamic";
export * from "./fp16";
export * from "./histogram";
export * from "./int4";
export * from "./prepare";
export * from "./qmath";
export * from "./sensitivity";
export * from "./static";
export * from "./target";
export * from "./weight-only";
export { constantsToInitializers, weightedNodes } from "./weights";

export type QuantizeSpec =
  | { kind: "fp16"; compute: boolean }
  | { kind: "int8-weights"; perChannel: boolean; symmetric: boolean }
  | { kind: "fp8-weights"; perChannel: boolean }
  | {
      kind: "int8-static";
      calibration: CalibrationMethod;
      perChannel: boolean;
      percentile?: number;
      /** share of weighted nodes left float, the most sensitive first (mixed precision) */
      keepFloatFraction?: number;
    }
  | { kind: "int8-dynamic" }
  | { kind: "int4"; blockSize: number };

/** How a device should open the variant (the catalogue records it next to the artifact). */
export interface RuntimeHints {
  /** weight-only DequantizeLinear formats: fold DQ at load instead of dequantizing per call */
  disableQuantQdq: boolean;
}

export interface QuantizeResult {
  model: ModelProto;
  runtime: RuntimeHints;
  /** ops kept in float32 by the fp16 conversion (no fp16 kernel in this ORT build) */
  float32Ops?: string[];
  /** nodes left unquantized by mixed-precision static int8 */
  float32Nodes?: string[];
}

export interface QuantizeContext {
  calibration?: readonly CalibrationBatch[];
  onCalibrationProgress?: (done: number, total: number) => void;
  threads?: number;
  /** CPU the variant is for: int8 weights drop to 7 bits on x86 without VNNI (unknown: always) */
  target?: CpuTarget;
}

export async function quantizeModel(
  model: ModelProto,
  spec: QuantizeSpec,
  ctx: QuantizeContext = {},
): Promise<QuantizeResult> {
  const plain = { disableQuantQdq: false };
  const reduceRange = int8ReduceRange(ctx.target);
  switch (spec.kind) {
    case "fp16":
      return spec.compute
        ? fp16WithFallback(model)
        : { model: toFp16Weights(model), runtime: plain };
    case "int8-weights":
      return { model: quantizeWeightsInt8(model, spec), runtime: { disableQuantQdq: true } };
    case "fp8-weights":
      return { model: quantizeWeightsFp8(model, spec), runtime: { disableQuantQdq: true } };
    case "int8-dynamic":
      return { model: quantizeDynamic(model, { reduceRange }), runtime: plain };
    case "int4":
      return { model: quantizeInt4(model, spec), runtime: plain };
    case "int8-static": {
      if (!ctx.calibration?.length) throw new RangeError("int8-static needs calibration batches");
      const prepared = prepareForQuantization(model);
      const targets = staticCalibrationTargets(prepared);
      const ranges = await calibrate(prepared, targets, ctx.calibration, {
        method: spec.calibration,
        percentile: spec.percentile,
        threads: ctx.threads,
        onProgress: ctx.onCalibrationProgress,
      });
      let exclude: string[] = [];
      if (spec.keepFloatFraction) {
        const scan = await staticSensitivity(prepared, ranges, ctx.calibration[0], { reduceRange });
        exclude = scan.slice(0, Math.ceil(spec.keepFloatFraction * scan.length)).map((s) => s.node);
      }
      const q = quantizeStatic(prepared, ranges, {
        perChannel: spec.perChannel,
        exclude,
        reduceRange,
      });
      return { model: q, runtime: plain, float32Nodes: exclude };
    }
  }
}

/**
 * fp16 compute, keeping in float32 the ops this ONNX Runtime build has no fp16 CPU kernel for:
 * each failed load names the op, which is added to the keep list and the conversion retried.
 */
export async function fp16WithFallback(model: ModelProto, maxTries = 30): Promise<QuantizeResult> {
  const keep: string[] = [];
  for (let i = 0; i < maxTries; i++) {
    const m = toFp16Full(model, keep);
    try {
      const s = await createSession(encodeModel(m));
      await s.release();
      return { model: m, runtime: { disableQuantQdq: false }, float32Ops: keep };
    } catch (err) {
      const op = err instanceof SessionCreateError ? missingKernelOp(err.message) : undefined;
      if (!op || keep.includes(op)) throw err;
      keep.push(op);
    }
  }
  throw new Error("fp16 conversion: too many ops without fp16 kernels");
}

export function missingKernelOp(message: string): string | undefined {
  return /Could not find an implementation for (\w+)\(/.exec(message)?.[1];
}

export function describeSpec(spec: QuantizeSpec): string {
  switch (spec.kind) {
    case "fp16":
      return spec.compute ? "fp16" : "fp16-weights";
    case "int8-weights":
      return `int8-weights-${spec.perChannel ? "per-channel" : "per-tensor"}-${spec.symmetric ? "sym" : "asym"}`;
    case "fp8-weights":
      return "fp8-e4m3-weights";
    case "int8-static":
      return `int8-static-${spec.calibration}${spec.keepFloatFraction ? `-keep${spec.keepFloatFraction * 100}pct` : ""}`;
    case "int8-dynamic":
      return "int8-dynamic";
    case "int4":
      return `int4-block${spec.blockSize}`;
  }
}
