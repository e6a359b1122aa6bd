import { describe, expect, it } from "vitest";
import { LocalDatasetError, mnistDigits, parseLocalDataset } from "./local-dataset";

describe("CALIBRATION_DATA", () => {
  const good = [
    { text: "mnist:digits=0,1,2", spec: { kind: "mnist", digits: [0, 1, 2] } },
    { text: "mnist:digits=9,3,3;limit=50", spec: { kind: "mnist", digits: [3, 9], limit: 50 } },
    { text: "mnist:digits=1;split=train", spec: { kind: "mnist", digits: [1], split: "train" } },
    { text: "f32:/data/cal.f32", spec: { kind: "f32", path: "/data/cal.f32" } },
    { text: "f32:C:/cal.f32", spec: { kind: "f32", path: "C:/cal.f32" } },
  ];
  it.each(good)("parses $text", ({ text, spec }) => {
    expect(parseLocalDataset(text)).toEqual(spec);
  });

  const bad = [
    { text: "s3://bucket", error: /neither mnist:digits=… nor f32:<file>/ },
    { text: "mnist:", error: /needs digits=/ },
    { text: "mnist:digits=1,12", error: /must be 0\.\.9/ },
    { text: "mnist:digits=1;limit=0", error: /limit "0" must be a positive integer/ },
    { text: "mnist:digits=1;seed=3", error: /unknown mnist option "seed"/ },
    { text: "f32:", error: /needs a file path/ },
    { text: "mnist:digits=1;split=test", error: /split "test" must be calibration or train/ },
  ];
  it.each(bad)("refuses $text", ({ text, error }) => {
    expect(() => parseLocalDataset(text)).toThrow(LocalDatasetError);
    expect(() => parseLocalDataset(text)).toThrow(error);
  });

  it("picks the digits of the named classes, in order, up to the limit", () => {
    const split = {
      x: Float32Array.from([0, 0, 1, 1, 2, 2, 3, 3]),
      y: Uint8Array.from([5, 1, 5, 7]),
      n: 4,
    };
    expect(mnistDigits(split, [5, 7])).toEqual({ x: Float32Array.from([0, 0, 2, 2, 3, 3]), n: 3 });
    expect(mnistDigits(split, [5, 7], 1)).toEqual({ x: Float32Array.from([0, 0]), n: 1 });
    expect(mnistDigits(split, [0]).n).toBe(0);
  });
});
