import { describe, expect, it } from "vitest";
import { DatasetFormatError, mnistDataset, takeSamples, tensorDataset } from "./datasets";

describe("mnistDataset", () => {
  it("holds the 10,000 digits of the mnist package, classes interleaved", () => {
    const d = mnistDataset();
    expect(d.samples).toBe(10_000);
    expect(d.inputs.length).toBe(10_000 * 784);
    expect(Array.from(d.labels!.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    const perClass = new Array(10).fill(0);
    for (const l of d.labels!) perClass[l]++;
    expect(perClass.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(Math.min(...perClass)).toBeGreaterThan(800);
  });
});

describe("tensorDataset", () => {
  it.each([
    [[2], 16, 2],
    [[2, 2], 32, 2],
  ])("samples of %j in %i bytes: %i", (dims, bytes, samples) => {
    const raw = new Uint8Array(new Float32Array(bytes / 4).map((_, i) => i).buffer);
    const d = tensorDataset(raw, dims);
    expect(d.samples).toBe(samples);
    expect(d.labels).toBeNull();
    expect(d.inputs[3]).toBe(3);
  });

  it.each([
    [[3], 16],
    [[2], 0],
    [[2], 6],
  ])("refuses samples of %j in %i bytes", (dims, bytes) => {
    expect(() => tensorDataset(new Uint8Array(bytes), dims)).toThrow(DatasetFormatError);
  });

  it("takes a prefix, labels with it", () => {
    const d = takeSamples(mnistDataset(), 25);
    expect(d.samples).toBe(25);
    expect(d.inputs.length).toBe(25 * 784);
    expect(d.labels!.length).toBe(25);
    expect(takeSamples(mnistDataset(), 20_000).samples).toBe(10_000);
  });
});
