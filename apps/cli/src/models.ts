// `edgefleet models import <dir>`: uploads a catalogue's artifacts (those the control plane does
// not hold yet) and registers the catalogue written by `edgefleet compress`. Each variant's
// planner cost is read off the graph ONNX Runtime really runs.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isPackedModel, unpackModel } from "@edgefleet/artifact";
import type { Catalogue } from "@edgefleet/compression";
import { decodeModel } from "@edgefleet/onnx";
import type { ModelDetailView } from "@edgefleet/protocol/rest";
import { analyzeVariant } from "@edgefleet/runtime";
import { type ApiTarget, callApi, uploadArtifact } from "./api-client";
import { readCatalogue } from "./catalogue-file";
import { CliInputError } from "./errors";
import type { Progress } from "./progress";

export { readCatalogue };

export interface ImportOptions {
  dir: string;
  name: string;
  version: string;
  /** Also register variants that broke the catalogue's constraints (e.g. max accuracy drop). */
  all?: boolean;
}

/** The request body of POST /api/v1/models for a catalogue's successful variants. */
export async function importRequest(catalogue: Catalogue, o: ImportOptions, progress: Progress) {
  const entries = catalogue.variants.filter(
    (v) => v.status === "ok" && v.artifact && (o.all || v.withinConstraints),
  );
  if (entries.length === 0) {
    throw new CliInputError("the catalogue has no successful variant within its constraints");
  }
  const variants = [];
  for (const [i, v] of entries.entries()) {
    progress.update("analysing variants", i, entries.length);
    const artifact = v.artifact!;
    const shipped = new Uint8Array(await readFile(join(o.dir, artifact.file)));
    const onnx = isPackedModel(shipped) ? unpackModel(shipped) : shipped;
    const cost = await analyzeVariant(onnx, { disableQuantQdq: v.runtime?.disableQuantQdq });
    variants.push({
      name: v.id,
      technique: techniqueOf(v.recipe),
      recipe: v.recipe,
      artifact: { sha256: artifact.sha256, bytes: artifact.bytes, format: artifact.format },
      onnxBytes: v.onnxBytes ?? onnx.length,
      params: v.parameters ?? 0,
      flopsByOp: v.flops?.byOp ?? {},
      // Unlabelled catalogues rank variants by agreement with the base model instead.
      accuracy: v.accuracy ?? v.fidelity?.top1Agreement ?? 0,
      ...(v.fidelity ? { fidelity: v.fidelity } : {}),
      ...(v.latencyMs
        ? { latencyMs: { batch1: v.latencyMs.batch1.median, batch64: v.latencyMs.batch64.median } }
        : {}),
      kernels: Object.keys(v.kernels?.optimizedOps ?? {}),
      runtime: { disableQuantQdq: v.runtime?.disableQuantQdq === true },
      opset: defaultOpset(onnx),
      cost: {
        flops: cost.flops,
        opCount: cost.opCount,
        activationBytes: cost.activationBytes,
        runtimeWeightBytes: cost.runtimeWeightBytes,
      },
    });
  }
  progress.update("analysing variants", entries.length, entries.length);
  return {
    name: o.name,
    version: o.version,
    input: { name: catalogue.base.input.name, sampleDims: catalogue.base.input.sampleDims },
    metric: catalogue.data.metric,
    variants,
  };
}

export async function importModel(target: ApiTarget, o: ImportOptions, progress: Progress) {
  const catalogue = await readCatalogue(o.dir);
  const body = await importRequest(catalogue, o, progress);
  const files = new Map(
    catalogue.variants.flatMap((v) => (v.artifact ? [[v.artifact.sha256, v.artifact.file]] : [])),
  );
  const digests = [...new Set(body.variants.map((v) => v.artifact.sha256))];
  for (const [i, digest] of digests.entries()) {
    const file = join(o.dir, files.get(digest)!);
    await uploadArtifact(target, digest, file, (sent, total) =>
      progress.update(`uploading artifacts (${i + 1}/${digests.length})`, sent, total),
    );
  }
  progress.stop();
  return callApi<ModelDetailView>(target, "POST", "/api/v1/models", body);
}

/** "prune+pack", "int8-static", "distill+int8-static": the recipe's steps in a few words. */
export function techniqueOf(recipe: Catalogue["variants"][number]["recipe"]): string {
  if (recipe.length === 0) return "base";
  return recipe.map((step) => (step.op === "quantize" ? step.kind : step.op)).join("+");
}

/** The default-domain opset the model imports (0 when it names none). */
function defaultOpset(onnx: Uint8Array): number {
  const imports = decodeModel(onnx).opsetImport ?? [];
  const op = imports.find((o) => !o.domain || o.domain === "ai.onnx");
  return Number(op?.version ?? 0);
}
