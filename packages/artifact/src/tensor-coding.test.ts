import { describe, expect, it } from "vitest";
import { Encoding } from "./pack-format";
import { decodeTensor, type EncodedTensor, encodeTensor } from "./tensor-coding";
import { testRng } from "./test-models";

const rng = testRng(5);
const sparse = (n: number, density: number) =>
  Float32Array.from({ length: n }, () => (rng.next() < density ? rng.normal() : 0));
const shared = (n: number, k: number, density: number) => {
  const book = Float32Array.from({ length: k }, () => rng.normal());
  return Float32Array.from({ length: n }, () => (rng.next() < density ? book[rng.int(k)] : 0));
};
const bitsOf = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

describe("tensor coding round-trips bit-exactly", () => {
  it.each([
    { name: "dense random", values: sparse(1000, 1), encoding: Encoding.denseRaw },
    { name: "dense 7 shared values", values: shared(1000, 7, 1), encoding: Encoding.denseCodebook },
    { name: "sparse random", values: sparse(5000, 0.1), encoding: Encoding.sparseRaw },
    {
      name: "sparse 32 shared values",
      values: shared(5000, 32, 0.05),
      encoding: Encoding.sparseCodebook,
    },
    { name: "all zero", values: new Float32Array(300), encoding: Encoding.sparseCodebook },
    {
      name: "one non-zero at the end after a long gap",
      values: Float32Array.from({ length: 2000 }, (_, i) => (i === 1999 ? 1.5 : 0)),
      encoding: Encoding.sparseCodebook,
    },
    {
      name: "-0, NaN and Infinity",
      values: Float32Array.from([-0, Number.NaN, Infinity, 1, -0, 0, 2, 3]),
      encoding: Encoding.denseCodebook,
    },
    {
      name: "257 distinct values: too many for a codebook",
      values: Float32Array.from({ length: 257 }, (_, i) => i + 1),
      encoding: Encoding.denseRaw,
    },
  ])("$name", ({ values, encoding }) => {
    const enc = encodeTensor(values);
    expect(enc.encoding).toBe(encoding);
    expect(bitsOf(decodeTensor(enc, "t"))).toEqual(bitsOf(values));
  });
});

describe("decodeTensor refuses inconsistent streams", () => {
  it.each<{ name: string; edit: (t: EncodedTensor) => void }>([
    {
      name: "unknown encoding",
      edit: (t) => {
        t.encoding = 7;
      },
    },
    {
      name: "more non-zeros than elements",
      edit: (t) => {
        t.nonZero = t.count + 1;
      },
    },
    {
      name: "short value stream",
      edit: (t) => {
        t.valueStream = t.valueStream.subarray(1);
      },
    },
    {
      name: "codebook index out of range",
      edit: (t) => {
        t.codebook = t.codebook.subarray(0, 1);
      },
    },
    {
      name: "position past the end",
      edit: (t) => {
        t.indexStream = Uint8Array.from([...t.indexStream, 254, 254]);
      },
    },
    {
      name: "fewer positions than non-zeros",
      edit: (t) => {
        t.indexStream = t.indexStream.subarray(0, t.indexStream.length - 1);
      },
    },
  ])("$name", ({ edit }) => {
    const t = encodeTensor(shared(400, 4, 0.2));
    expect(t.encoding).toBe(Encoding.sparseCodebook);
    edit(t);
    expect(() => decodeTensor(t, "w")).toThrow(/packed model: tensor "w"/);
  });
});
