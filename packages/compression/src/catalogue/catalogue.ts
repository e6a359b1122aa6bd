import { join } from "node:path";
import { encodeModel, type ModelProto, writeFileAtomic } from "@edgefleet/onnx";
import {
  type EvaluateOptions,
  evaluateVariant,
  type ModelInput,
  openVariant,
  predictAll,
  type VariantMetrics,
} from "../evaluate";
import type { CalibrationBatch, RuntimeHints } from "../quantize";
import { type Constraints, paretoFront, violations } from "./pareto";
import { buildRecipe, type Recipe, type RecipeStep, type Trainable } from "./recipes";

export const CATALOGUE_SCHEMA_VERSION = 1;

/** catalogue.json, schema version 1 (documented in packages/compression/CATALOGUE.md). */
export interface Catalogue {
  schemaVersion: typeof CATALOGUE_SCHEMA_VERSION;
  createdAt: string;
  base: { source: string; sha256: string; bytes: number; input: ModelInput };
  data: {
    name: string;
    metric: "accuracy" | "fidelity";
    labelledSamples: number;
    calibrationSamples: number;
  };
  constraints: Constraints;
  variants: CatalogueEntry[];
}

export interface CatalogueEntry {
  id: string;
  description: string;
  recipe: RecipeStep[];
  status: "ok" | "failed";
  error?: string;
  artifact?: { file: string; format: "onnx" | "packed"; bytes: number; sha256: string };
  onnxBytes?: number;
  runtime?: RuntimeHints;
  parameters?: number;
  flops?: VariantMetrics["flops"];
  /** top-1 accuracy in [0, 1] on the labelled held-out split */
  accuracy?: number;
  /** drop against the base in percentage points (accuracy, or top-1 disagreement if unlabelled) */
  dropPoints?: number;
  fidelity?: VariantMetrics["fidelity"];
  latencyMs?: {
    batch1: { best: number; median: number; p90: number };
    batch64: { best: number; median: number; p90: number };
  };
  kernels?: VariantMetrics["kernels"];
  notes: string[];
  withinConstraints: boolean;
  rejectedBecause: string[];
  pareto: boolean;
}

export interface CatalogueData {
  name: string;
  input: ModelInput;
  labelled?: { x: Float32Array; y: Uint8Array; n: number };
  calibration: { x: Float32Array; n: number };
  outputsAreProbabilities?: boolean;
}

export interface CatalogueRequest {
  base: ModelProto;
  source: string;
  trainable?: Trainable;
  data: CatalogueData;
  constraints: Constraints;
  recipes: Recipe[];
  outDir: string;
  evaluate?: EvaluateOptions;
  calibrationBatchSize?: number;
  progress?: (phase: string, done: number, total: number) => void;
  onVariant?: (entry: CatalogueEntry) => void;
}

export function calibrationBatches(
  calib: { x: Float32Array; n: number },
  input: ModelInput,
  batchSize = 100,
): CalibrationBatch[] {
  const per = input.sampleDims.reduce((a, b) => a * b, 1);
  const out: CalibrationBatch[] = [];
  for (let s = 0; s < calib.n; s += batchSize) {
    const m = Math.min(batchSize, calib.n - s);
    out.push({
      [input.name]: {
        data: calib.x.subarray(s * per, (s + m) * per),
        dims: [m, ...input.sampleDims],
      },
    });
  }
  return out;
}

/** Builds, measures and writes every recipe's variant, marks the Pareto front, writes catalogue.json. */
export async function buildCatalogue(req: CatalogueRequest): Promise<Catalogue> {
  const baseOnnx = encodeModel(req.base);
  const { data } = req;
  const baseSession = await openVariant(baseOnnx, { disableQuantQdq: false });
  const ref = await predictAll(baseSession, data.input, data.calibration.x, data.calibration.n);
  await baseSession.release();
  const evalData = {
    input: data.input,
    labelled: data.labelled,
    reference: { x: data.calibration.x, n: data.calibration.n, baseOutput: ref.data },
    outputsAreProbabilities: data.outputsAreProbabilities,
    latencyInputs: data.calibration.x,
  };
  const ctx = {
    base: req.base,
    trainable: req.trainable,
    calibration: calibrationBatches(data.calibration, data.input, req.calibrationBatchSize),
    progress: req.progress,
    cache: new Map(),
  };
  const entries: CatalogueEntry[] = [];
  const measure = async (
    id: string,
    description: string,
    recipe: RecipeStep[],
    built: () => Promise<{
      onnx: Uint8Array;
      shipped: Uint8Array;
      format: "onnx" | "packed";
      runtime: RuntimeHints;
      notes: string[];
    }>,
  ) => {
    const entry: CatalogueEntry = {
      id,
      description,
      recipe,
      status: "ok",
      notes: [],
      withinConstraints: false,
      rejectedBecause: [],
      pareto: false,
    };
    try {
      const v = await built();
      const file = `${id}${v.format === "packed" ? ".efpk" : ".onnx"}`;
      const m = await evaluateVariant(v.onnx, v.shipped, v.runtime, evalData, req.evaluate);
      await writeFileAtomic(join(req.outDir, file), v.shipped);
      Object.assign(entry, toEntryMetrics(m), {
        artifact: { file, format: v.format, bytes: v.shipped.length, sha256: m.sha256 },
        onnxBytes: v.onnx.length,
        runtime: v.runtime,
        notes: v.notes,
      });
    } catch (err) {
      entry.status = "failed";
      entry.error =
        err instanceof Error ? `${err.name}: ${err.message.split("\n")[0]}` : String(err);
    }
    entries.push(entry);
    req.onVariant?.(entry);
  };
  await measure("fp32", "base model, float32", [], async () => ({
    onnx: baseOnnx,
    shipped: baseOnnx,
    format: "onnx",
    runtime: { disableQuantQdq: false },
    notes: [],
  }));
  for (const recipe of req.recipes) {
    await measure(recipe.id, recipe.description, recipe.steps, () => buildRecipe(recipe, ctx));
  }
  judge(entries, req.constraints, data.labelled !== undefined);
  const base = entries[0];
  const catalogue: Catalogue = {
    schemaVersion: CATALOGUE_SCHEMA_VERSION,
    createdAt: new Date().toISOString(),
    base: {
      source: req.source,
      sha256: base.artifact?.sha256 ?? "",
      bytes: baseOnnx.length,
      input: data.input,
    },
    data: {
      name: data.name,
      metric: data.labelled ? "accuracy" : "fidelity",
      labelledSamples: data.labelled?.n ?? 0,
      calibrationSamples: data.calibration.n,
    },
    constraints: req.constraints,
    variants: entries,
  };
  await writeFileAtomic(
    join(req.outDir, "catalogue.json"),
    `${JSON.stringify(catalogue, null, 2)}\n`,
  );
  return catalogue;
}

function toEntryMetrics(m: VariantMetrics): Partial<CatalogueEntry> {
  const lat = (s: VariantMetrics["latencyMs"]["batch1"]) => ({
    best: s.bestMs,
    median: s.medianMs,
    p90: s.p90Ms,
  });
  return {
    parameters: m.parameters,
    flops: m.flops,
    accuracy: m.accuracy,
    fidelity: m.fidelity,
    latencyMs: { batch1: lat(m.latencyMs.batch1), batch64: lat(m.latencyMs.batch64) },
    kernels: m.kernels,
  };
}

/** Fills dropPoints, constraint verdicts and the Pareto flag (over bytes, b1 median, quality). */
export function judge(entries: CatalogueEntry[], c: Constraints, labelled: boolean): void {
  const base = entries.find((e) => e.id === "fp32");
  const quality = (e: CatalogueEntry) =>
    labelled ? (e.accuracy ?? 0) : (e.fidelity?.top1Agreement ?? 0);
  const baseQ = base ? quality(base) : 1;
  for (const e of entries) {
    if (e.status !== "ok" || !e.artifact || !e.latencyMs) continue;
    e.dropPoints = (baseQ - quality(e)) * 100;
    e.rejectedBecause = violations(
      { dropPoints: e.dropPoints, bytes: e.artifact.bytes, latencyMs: e.latencyMs.batch1.median },
      c,
    );
    e.withinConstraints = e.rejectedBecause.length === 0;
  }
  const ok = entries.filter((e) => e.withinConstraints);
  const front = paretoFront(
    ok.map((e) => ({
      bytes: e.artifact?.bytes ?? 0,
      latencyMs: e.latencyMs?.batch1.median ?? 0,
      quality: quality(e),
    })),
  );
  for (const i of front) ok[i].pareto = true;
}
