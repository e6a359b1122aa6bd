import { describe, expect, it } from "vitest";
import { CanarySetError, decodeCanarySet, encodeCanarySet, isCanarySet } from "./canary";
import { mediaTypeOf } from "./digest";

const set = {
  sampleDims: [2, 2],
  inputs: Float32Array.from([0, 1, 2, 3, -1.5, 0.25, 1e-7, 8]),
  labels: Int32Array.from([3, 9]),
};

describe("EFCS canary sets", () => {
  it("round-trips exactly and sniffs as a canary", () => {
    const bytes = encodeCanarySet(set);
    expect(isCanarySet(bytes)).toBe(true);
    expect(mediaTypeOf(bytes)).toBe("application/vnd.edgefleet.canary");
    expect(decodeCanarySet(bytes)).toEqual({ ...set, samples: 2 });
  });

  it.each([
    ["inputs that do not fill the samples", { ...set, inputs: new Float32Array(7) }, /inputs/],
    ["no samples", { ...set, labels: new Int32Array(0), inputs: new Float32Array(0) }, /labels/],
    ["a zero dim", { ...set, sampleDims: [2, 0] }, /sampleDims/],
  ])("refuses to encode %s", (_what, bad, message) => {
    expect(() => encodeCanarySet(bad)).toThrow(message);
  });

  const good = () => encodeCanarySet(set);
  it.each([
    ["other bytes", new Uint8Array([1, 2, 3, 4, 5]), /not a canary set/],
    ["a truncated set", good().subarray(0, 30), /bytes, the header says/],
    ["trailing bytes", new Uint8Array([...good(), 0]), /bytes, the header says/],
    [
      "an unknown version",
      (() => {
        const b = good();
        b[4] = 2;
        return b;
      })(),
      /version 2/,
    ],
    [
      "a sample count past the limit",
      (() => {
        const b = good();
        new DataView(b.buffer).setUint32(8, 1e9, true);
        return b;
      })(),
      /samples is not/,
    ],
  ])("refuses to decode %s", (_what, bytes, message) => {
    expect(() => decodeCanarySet(bytes)).toThrow(CanarySetError);
    expect(() => decodeCanarySet(bytes)).toThrow(message);
  });
});
