import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import {
  buildCatalogue,
  type Catalogue,
  type CatalogueEntry,
  selectRecipes,
} from "@edgefleet/compression";
import { CliInputError, resolveData, resolveModel, trainableFor } from "./inputs";
import type { Progress } from "./progress";

export interface CompressOptions {
  model: string;
  data: string;
  out: string;
  maxDrop: number;
  maxBytes?: number;
  maxLatencyMs?: number;
  recipes?: string[];
  epochs: number;
  seed: number;
  calibrationSamples: number;
  testSamples: number;
  latencyIterations: number;
  inputShape?: number[];
  outputsAreProbabilities?: boolean;
}

/**
 * Builds the catalogue into a hidden temp directory beside `out` and renames it into place at
 * the end: a failed run leaves nothing behind.
 */
export async function compress(
  o: CompressOptions,
  progress: Progress,
  onVariant?: (e: CatalogueEntry) => void,
): Promise<Catalogue> {
  const out = resolve(o.out);
  await assertFreshOutput(out);
  const model = await resolveModel(o.model, {
    epochs: o.epochs,
    seed: o.seed,
    onProgress: (d, t) => progress.update("train base mnist-mlp", d, t),
  });
  const data = await resolveData(o.data, model, {
    calibrationSamples: o.calibrationSamples,
    testSamples: o.testSamples,
    inputShape: o.inputShape,
  });
  const trainable = trainableFor(model, data, o.seed);
  const recipes = selectRecipes(o.recipes, trainable !== undefined);
  await mkdir(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString("hex")}.partial`);
  await mkdir(tmp);
  try {
    const catalogue = await buildCatalogue({
      base: model.model,
      source: model.source,
      trainable,
      data: {
        name: data.name,
        input: { name: model.inputName, sampleDims: data.sampleDims },
        labelled: data.labelled,
        calibration: data.calibration,
        outputsAreProbabilities: o.outputsAreProbabilities,
      },
      constraints: { maxDropPoints: o.maxDrop, maxBytes: o.maxBytes, maxLatencyMs: o.maxLatencyMs },
      recipes,
      outDir: tmp,
      evaluate: { latencyIterations: o.latencyIterations },
      progress: (phase, d, t) => progress.update(phase, d, t),
      onVariant,
    });
    await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
    return catalogue;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

async function assertFreshOutput(out: string): Promise<void> {
  const s = await stat(out).catch(() => undefined);
  if (!s) return;
  if (!s.isDirectory()) throw new CliInputError(`--out ${out} exists and is not a directory`);
  if ((await readdir(out)).length > 0)
    throw new CliInputError(`--out ${out} exists and is not empty`);
}
