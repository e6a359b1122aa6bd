// Turning a verified artifact into a ServingModel the slot can swap in: load beside whatever
// serves now, check it against its signed manifest, warm it up. Anything failing releases what
// was loaded, so a refused variant leaves nothing behind.
import type { ArtifactManifest, RuntimeOptions } from "@edgefleet/protocol";
import { ManifestMismatchError } from "./errors";
import type { ServingMeta, ServingModel } from "./model-slot";
import { type InferenceRuntime, type LoadedModel, warmUp } from "./runtime";

export interface PrepareOptions {
  manifest: ArtifactManifest;
  /** The desired-state generation that assigned it. */
  generation: number;
  options: RuntimeOptions;
  /** Threads when `options.threads` is 0 (the agent's default). */
  defaultThreads: number;
  /** >= 1; the simulated class's slowdown for `manifest.runtime.kernelType`; 1 for a real device. */
  simulatedSlowdown?: number;
  /** Warm-up runs at batch 1 and, when batching, at maxBatch; default 3. */
  warmUpRuns?: number;
  /** Progress, for the state report's `step`. */
  onStep?(step: "load" | "warmUp"): void;
}

export async function prepareModel(
  runtime: InferenceRuntime,
  onnx: Uint8Array,
  p: PrepareOptions,
): Promise<ServingModel> {
  const threads = p.options.threads > 0 ? p.options.threads : p.defaultThreads;
  p.onStep?.("load");
  const model = await runtime.load(onnx, {
    threads,
    disableQuantQdq: p.manifest.runtime.disableQuantQdq,
  });
  try {
    checkManifestInput(model, p.manifest.input);
    p.onStep?.("warmUp");
    const runs = p.warmUpRuns ?? 3;
    await warmUp(model, runs, 1);
    if (model.dynamicBatch && p.options.maxBatch > 1) await warmUp(model, runs, p.options.maxBatch);
  } catch (err) {
    await model.release().catch(() => {});
    throw err;
  }
  return {
    model,
    meta: servingMeta(p.manifest, p.generation, p.simulatedSlowdown ?? 1),
    options: { ...p.options, threads },
  };
}

export function servingMeta(
  manifest: ArtifactManifest,
  generation: number,
  simulatedSlowdown = 1,
): ServingMeta {
  return {
    variantId: manifest.variant.id,
    variantName: manifest.variant.name,
    generation,
    digest: manifest.digest,
    kernelType: manifest.runtime.kernelType,
    simulatedSlowdown,
  };
}

/** The model's input must be what the signed manifest promised local clients. */
export function checkManifestInput(
  model: Pick<LoadedModel, "inputName" | "sampleDims">,
  input: ArtifactManifest["input"],
): void {
  const same =
    model.inputName === input.name &&
    model.sampleDims.length === input.sampleDims.length &&
    model.sampleDims.every((d, i) => d === input.sampleDims[i]);
  if (!same) {
    throw new ManifestMismatchError(
      `the model's input is ${model.inputName} [${model.sampleDims.join(", ")}] per sample; the manifest says ${input.name} [${input.sampleDims.join(", ")}]`,
    );
  }
}
