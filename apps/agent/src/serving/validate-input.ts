// Pure checks of a local inference request against the model's input: a bad request gets an
// InvalidInputError naming the field, before it is queued.
import { sampleSize } from "./batch-plan";
import { InvalidInputError } from "./errors";
import type { LoadedModel } from "./runtime";

export type InputSignature = Pick<
  LoadedModel,
  "inputName" | "sampleDims" | "dynamicBatch" | "fixedBatch"
>;

/** Checks a request against the model; returns its batch. */
export function validateInput(
  model: InputSignature,
  input: unknown,
  dims: readonly number[] | undefined,
): number {
  if (!(input instanceof Float32Array)) {
    throw new InvalidInputError("input", "must be float32 values");
  }
  const sample = sampleSize(model.sampleDims);
  const shape = `[N, ${model.sampleDims.join(", ")}]`;
  let batch: number;
  if (dims === undefined) {
    if (input.length === 0 || input.length % sample !== 0) {
      throw new InvalidInputError(
        "input",
        `has ${input.length} values, not a positive multiple of the sample size ${sample} (${model.inputName} is ${shape})`,
      );
    }
    batch = input.length / sample;
  } else {
    if (!Array.isArray(dims) || dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
      throw new InvalidInputError("dims", "must be positive integers");
    }
    const rest = dims.slice(1);
    if (
      dims.length !== model.sampleDims.length + 1 ||
      rest.some((d, i) => d !== model.sampleDims[i])
    ) {
      throw new InvalidInputError(
        "dims",
        `[${dims.join(", ")}] does not match ${model.inputName} ${shape} (batch first)`,
      );
    }
    batch = dims[0];
    if (batch * sample !== input.length) {
      throw new InvalidInputError(
        "input",
        `has ${input.length} values; dims [${dims.join(", ")}] need ${batch * sample}`,
      );
    }
  }
  if (!model.dynamicBatch && batch !== model.fixedBatch) {
    throw new InvalidInputError(
      "dims",
      `batch ${batch}: this model's batch axis is fixed at ${model.fixedBatch}`,
    );
  }
  for (let i = 0; i < input.length; i++) {
    const v = input[i];
    // v - v is NaN for NaN and both infinities: one comparison on the hot path.
    if (v - v !== 0) {
      throw new InvalidInputError("input", `element ${i} is ${v}; values must be finite`);
    }
  }
  return batch;
}
