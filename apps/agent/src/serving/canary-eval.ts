// Canary evaluation (a rollout's quality gate): a loaded variant's top-1 accuracy on the
// labelled canary set its assignment names, measured before the variant is swapped in.
//
// Runs go straight to the model, not through a slot's batcher: they are not requests, so they
// count in no telemetry, and a simulated device class adds no slowdown (accuracy does not depend
// on the class, and this is no latency measurement). onnxruntime-node runs each batch on the JS
// thread inside a setImmediate of its own, so requests to the variant still serving are answered
// between batches.
import type { CanarySet } from "@edgefleet/artifact";
import type { LoadedModel } from "./runtime";
import { top1 } from "./shadow-plan";

export interface CanaryScore {
  samples: number;
  /** Samples whose top-1 class (argmax of the first output) equals the label. */
  correct: number;
}

/** The canary set's samples are not what the model takes: nothing was run. */
export class CanaryMismatchError extends Error {
  override name = "CanaryMismatchError";
}

/** The model failed on a batch of the canary set: a result about the variant, for its gate. */
export class CanaryRunError extends Error {
  override name = "CanaryRunError";
}

export const CANARY_BATCH = 32;

/**
 * Throws CanaryMismatchError before any run, CanaryRunError when the model fails on a batch,
 * OutputShapeError when its first output is not one row per sample.
 */
export async function evaluateCanary(
  model: LoadedModel,
  set: CanarySet,
  batch = CANARY_BATCH,
): Promise<CanaryScore> {
  const same =
    set.sampleDims.length === model.sampleDims.length &&
    set.sampleDims.every((d, i) => d === model.sampleDims[i]);
  if (!same) {
    throw new CanaryMismatchError(
      `canary samples are [${set.sampleDims.join(", ")}], the model takes ${model.inputName} [${model.sampleDims.join(", ")}]`,
    );
  }
  const per = set.inputs.length / set.samples;
  // A static batch axis takes exactly its batch: the last one is padded with zeros, and the
  // padding's answers are ignored.
  const size = model.dynamicBatch ? Math.max(1, batch) : (model.fixedBatch ?? 1);
  const output = model.outputNames[0];
  let correct = 0;
  for (let start = 0; start < set.samples; start += size) {
    const n = Math.min(size, set.samples - start);
    const rows = model.dynamicBatch ? n : size;
    const slice = set.inputs.subarray(start * per, (start + n) * per);
    const input = rows === n ? slice : padded(slice, rows * per);
    let out: Awaited<ReturnType<LoadedModel["run"]>>;
    try {
      out = await model.run(input, rows);
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
      throw new CanaryRunError(
        `the model failed on samples ${start}..${start + n - 1}: ${detail}`,
        {
          cause,
        },
      );
    }
    const classes = top1(out[output].data, rows);
    for (let i = 0; i < n; i++) if (classes[i] === set.labels[start + i]) correct++;
  }
  return { samples: set.samples, correct };
}

function padded(values: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  out.set(values);
  return out;
}
