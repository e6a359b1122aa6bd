import { decodeModel, encodeModel, type ModelProto } from "@edgefleet/onnx";
import type { Split } from "../data/mnist";
import { distill } from "../distill/distill";
import { exportOnnx } from "../nn/export-onnx";
import { cloneSequential, type Sequential } from "../nn/model";
import { iterativePrune } from "../prune/magnitude";
import { packModel } from "../prune/pack";
import { pruneUnits } from "../prune/structured";
import {
  type CalibrationBatch,
  type QuantizeSpec,
  quantizeModel,
  type RuntimeHints,
} from "../quantize";
import { type TrainOptions, trainClassifier } from "../train/trainer";

/** One step of a recipe, recorded verbatim in the catalogue. */
export type RecipeStep =
  | ({ op: "quantize" } & QuantizeSpec)
  | { op: "prune"; schedule: number[]; scope: "layerwise" | "global"; fineTuneEpochs: number }
  | { op: "structured-prune"; keepFraction: number; fineTuneEpochs: number }
  | { op: "distill"; hidden: number[]; temperature: number; alpha: number; epochs: number }
  | { op: "pack"; codec: "brotli" | "gzip"; clusterBits?: number };

export interface Trainable {
  model: Sequential;
  train: Split;
  seed: number;
  /** base training options reused for fine-tuning (epochs are set per step) */
  trainOptions: Omit<TrainOptions, "epochs" | "seed">;
}

export interface RecipeContext {
  base: ModelProto;
  trainable?: Trainable;
  calibration: readonly CalibrationBatch[];
  progress?: (phase: string, done: number, total: number) => void;
  /** shared between recipes of one run (a pruned model feeds several combos) */
  cache: Map<string, Promise<Sequential>>;
}

export interface BuiltVariant {
  onnx: Uint8Array;
  /** what is shipped to devices: the ONNX itself or the packed form */
  shipped: Uint8Array;
  format: "onnx" | "packed";
  runtime: RuntimeHints;
  notes: string[];
}

export interface Recipe {
  id: string;
  description: string;
  /** "onnx" recipes work on any supported model; "trainable" ones need the training data */
  requires: "onnx" | "trainable";
  steps: RecipeStep[];
}

const q = (spec: QuantizeSpec): RecipeStep => ({ op: "quantize", ...spec });

export const QUANT_RECIPES: Recipe[] = [
  {
    id: "fp16-weights",
    description: "fp16 weights, fp32 compute",
    requires: "onnx",
    steps: [q({ kind: "fp16", compute: false })],
  },
  {
    id: "fp16",
    description: "fp16 weights and compute (I/O stays fp32)",
    requires: "onnx",
    steps: [q({ kind: "fp16", compute: true })],
  },
  {
    id: "int8-weights",
    description: "int8 weight-only, per-channel symmetric",
    requires: "onnx",
    steps: [q({ kind: "int8-weights", perChannel: true, symmetric: true })],
  },
  {
    id: "int8-weights-tensor-asym",
    description: "uint8 weight-only, per-tensor asymmetric",
    requires: "onnx",
    steps: [q({ kind: "int8-weights", perChannel: false, symmetric: false })],
  },
  {
    id: "fp8-weights",
    description: "float8 e4m3fn weight-only, per-channel scale",
    requires: "onnx",
    steps: [q({ kind: "fp8-weights", perChannel: true })],
  },
  {
    id: "int8-static-minmax",
    description: "int8 static QDQ, min-max calibration",
    requires: "onnx",
    steps: [q({ kind: "int8-static", calibration: "minmax", perChannel: true })],
  },
  {
    id: "int8-static-percentile",
    description: "int8 static QDQ, 99.99th percentile calibration",
    requires: "onnx",
    steps: [
      q({ kind: "int8-static", calibration: "percentile", perChannel: true, percentile: 99.99 }),
    ],
  },
  {
    id: "int8-static-mse",
    description: "int8 static QDQ, MSE-optimal clip calibration",
    requires: "onnx",
    steps: [q({ kind: "int8-static", calibration: "mse", perChannel: true })],
  },
  {
    id: "int8-static-mixed5",
    description: "int8 static QDQ (percentile), the 5 % most sensitive nodes left float",
    requires: "onnx",
    steps: [
      q({
        kind: "int8-static",
        calibration: "percentile",
        perChannel: true,
        percentile: 99.99,
        keepFloatFraction: 0.05,
      }),
    ],
  },
  {
    id: "int8-dynamic",
    description: "int8 dynamic (DynamicQuantizeMatMul / ConvInteger)",
    requires: "onnx",
    steps: [q({ kind: "int8-dynamic" })],
  },
  {
    id: "int4",
    description: "int4 blockwise weights (MatMulNBits, block 32)",
    requires: "onnx",
    steps: [q({ kind: "int4", blockSize: 32 })],
  },
];

export const TRAINING_RECIPES: Recipe[] = [
  {
    id: "prune-90-packed",
    description: "magnitude prune 50->75->90 % layerwise with fine-tuning, sparse packed + brotli",
    requires: "trainable",
    steps: [
      { op: "prune", schedule: [0.5, 0.75, 0.9], scope: "layerwise", fineTuneEpochs: 1 },
      { op: "pack", codec: "brotli" },
    ],
  },
  {
    id: "prune-global-90-cluster5",
    description: "Deep Compression: global magnitude prune to 90 %, 5-bit weight sharing, packed",
    requires: "trainable",
    steps: [
      { op: "prune", schedule: [0.5, 0.75, 0.9], scope: "global", fineTuneEpochs: 1 },
      { op: "pack", codec: "brotli", clusterBits: 5 },
    ],
  },
  {
    id: "structured-50",
    description: "structured prune: keep 50 % of hidden units, fine-tune",
    requires: "trainable",
    steps: [{ op: "structured-prune", keepFraction: 0.5, fineTuneEpochs: 2 }],
  },
  {
    id: "structured-50+int8-static",
    description: "structured prune 50 % -> fine-tune -> int8 static (MSE)",
    requires: "trainable",
    steps: [
      { op: "structured-prune", keepFraction: 0.5, fineTuneEpochs: 2 },
      q({ kind: "int8-static", calibration: "mse", perChannel: true }),
    ],
  },
  {
    id: "prune-90+int4",
    description: "magnitude prune 90 % with fine-tuning -> int4 blockwise",
    requires: "trainable",
    steps: [
      { op: "prune", schedule: [0.5, 0.75, 0.9], scope: "layerwise", fineTuneEpochs: 1 },
      q({ kind: "int4", blockSize: 32 }),
    ],
  },
  {
    id: "distill-64",
    description: "distilled student 784-64-10 (T 4, alpha 0.7)",
    requires: "trainable",
    steps: [{ op: "distill", hidden: [64], temperature: 4, alpha: 0.7, epochs: 3 }],
  },
];

export const ALL_RECIPES = [...QUANT_RECIPES, ...TRAINING_RECIPES];

export class UnknownRecipeError extends Error {
  override name = "UnknownRecipeError";
}

export function selectRecipes(ids: readonly string[] | undefined, trainable: boolean): Recipe[] {
  const pool = trainable ? ALL_RECIPES : QUANT_RECIPES;
  if (!ids?.length) return pool;
  return ids.map((id) => {
    const r = ALL_RECIPES.find((x) => x.id === id);
    if (!r)
      throw new UnknownRecipeError(
        `unknown recipe "${id}" (known: ${ALL_RECIPES.map((x) => x.id).join(", ")})`,
      );
    if (r.requires === "trainable" && !trainable) {
      throw new UnknownRecipeError(
        `recipe "${id}" needs a trainable built-in model and labelled data`,
      );
    }
    return r;
  });
}

/** Runs a recipe's steps: training steps on the Sequential, then ONNX-level steps. */
export async function buildRecipe(recipe: Recipe, ctx: RecipeContext): Promise<BuiltVariant> {
  let seq: Sequential | undefined;
  let model = ctx.base;
  let runtime: RuntimeHints = { disableQuantQdq: false };
  let shipped: Uint8Array | undefined;
  const notes: string[] = [];
  for (const [i, step] of recipe.steps.entries()) {
    const key = JSON.stringify(recipe.steps.slice(0, i + 1));
    switch (step.op) {
      case "prune":
      case "structured-prune":
      case "distill": {
        const prev = seq;
        seq = await cached(ctx, key, () => trainStep(step, ctx, prev, recipe.id));
        model = decodeModel(exportOnnx(seq));
        break;
      }
      case "quantize": {
        const { op: _op, ...spec } = step;
        const r = await quantizeModel(model, spec as QuantizeSpec, {
          calibration: ctx.calibration,
          onCalibrationProgress: (d, t) => ctx.progress?.(`calibrate ${recipe.id}`, d, t),
        });
        model = r.model;
        runtime = r.runtime;
        if (r.float32Ops?.length) notes.push(`kept fp32: ${r.float32Ops.join(", ")}`);
        if (r.float32Nodes?.length) notes.push(`left float: ${r.float32Nodes.join(", ")}`);
        break;
      }
      case "pack":
        shipped = packModel(encodeModel(model), {
          codec: step.codec,
          clusterBits: step.clusterBits,
        });
        break;
    }
  }
  const onnx = encodeModel(model);
  return { onnx, shipped: shipped ?? onnx, format: shipped ? "packed" : "onnx", runtime, notes };
}

function cached(ctx: RecipeContext, key: string, make: () => Promise<Sequential>) {
  let p = ctx.cache.get(key);
  if (!p) {
    p = make();
    ctx.cache.set(key, p);
  }
  return p;
}

async function trainStep(
  step: Extract<RecipeStep, { op: "prune" | "structured-prune" | "distill" }>,
  ctx: RecipeContext,
  prev: Sequential | undefined,
  id: string,
): Promise<Sequential> {
  const t = ctx.trainable;
  if (!t) throw new UnknownRecipeError(`recipe "${id}" needs a trainable model`);
  const source = prev ?? t.model;
  const opts = (epochs: number, seedOffset: number): TrainOptions => ({
    ...t.trainOptions,
    epochs,
    seed: t.seed + seedOffset,
    onProgress: (epoch, s) => {
      const steps = Math.ceil(t.train.n / t.trainOptions.batchSize);
      ctx.progress?.(`train ${id}`, epoch * steps + s + 1, epochs * steps);
    },
  });
  if (step.op === "prune") {
    const m = cloneSequential(source);
    iterativePrune(m, t.train, {
      schedule: step.schedule,
      scope: step.scope,
      fineTune: opts(step.fineTuneEpochs, 101),
    });
    return m;
  }
  if (step.op === "structured-prune") {
    const m = pruneUnits(source, { keepFraction: step.keepFraction });
    trainClassifier(m, t.train, opts(step.fineTuneEpochs, 202));
    return m;
  }
  const { student } = distill(source, { hidden: step.hidden }, t.train, {
    ...opts(step.epochs, 303),
    temperature: step.temperature,
    alpha: step.alpha,
  });
  return student;
}
