import { describe, expect, it } from "vitest";
import { InvalidInputError } from "./errors";
import { type InputSignature, validateInput } from "./validate-input";

const mlp: InputSignature = { inputName: "input", sampleDims: [2, 3], dynamicBatch: true };
const fixed: InputSignature = {
  inputName: "x",
  sampleDims: [4],
  dynamicBatch: false,
  fixedBatch: 1,
};
const f32 = (n: number, fill = 0.5) => new Float32Array(n).fill(fill);

describe("validateInput", () => {
  it.each([
    ["default dims: one sample", mlp, f32(6), undefined, 1],
    ["default dims: three samples", mlp, f32(18), undefined, 3],
    ["explicit dims", mlp, f32(12), [2, 2, 3], 2],
    ["a static batch axis at its size", fixed, f32(4), [1, 4], 1],
  ])("accepts %s", (_name, model, input, dims, batch) => {
    expect(validateInput(model, input, dims)).toBe(batch);
  });

  const withNaN = f32(6);
  withNaN[4] = Number.NaN;
  const overflow = new Float32Array([1, 2, 3, 1e39, 5, 6]);
  it.each([
    ["not float32", mlp, [1, 2, 3, 4, 5, 6], undefined, "input", /float32/],
    [
      "empty",
      mlp,
      f32(0),
      undefined,
      "input",
      /0 values, not a positive multiple of the sample size 6/,
    ],
    ["not a multiple of the sample", mlp, f32(7), undefined, "input", /input is \[N, 2, 3\]/],
    ["wrong sample dims", mlp, f32(6), [1, 6], "dims", /\[1, 6\] does not match input \[N, 2, 3\]/],
    ["wrong rank", mlp, f32(6), [6], "dims", /does not match/],
    ["batch 0", mlp, f32(0), [0, 2, 3], "dims", /positive integers/],
    ["fractional dims", mlp, f32(6), [1.5, 2, 3], "dims", /positive integers/],
    [
      "length not matching dims",
      mlp,
      f32(6),
      [2, 2, 3],
      "input",
      /has 6 values; dims \[2, 2, 3\] need 12/,
    ],
    ["NaN", mlp, withNaN, undefined, "input", /element 4 is NaN/],
    ["beyond float32 range (Infinity)", mlp, overflow, undefined, "input", /element 3 is Infinity/],
    ["another batch on a static axis", fixed, f32(8), [2, 4], "dims", /fixed at 1/],
  ])("refuses %s, naming the field", (_name, model, input, dims, field, message) => {
    let caught: unknown;
    try {
      validateInput(model, input, dims);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect((caught as InvalidInputError).field).toBe(field);
    expect((caught as InvalidInputError).message).toMatch(message);
  });
});
