import { describe, expect, it } from "vitest";
import { CanonicalJsonError, canonicalJson } from "./canonical-json";

describe("canonicalJson writes one form per value", () => {
  it.each([
    { name: "keys sorted", value: { b: 1, a: 2, c: 3 }, json: '{"a":2,"b":1,"c":3}' },
    {
      name: "insertion order does not matter",
      value: { c: 3, a: 2, b: 1 },
      json: '{"a":2,"b":1,"c":3}',
    },
    {
      name: "nested objects sorted, arrays kept in order",
      value: { z: [{ y: 1, x: 2 }, 3, [2, 1]], a: { d: null, c: true } },
      json: '{"a":{"c":true,"d":null},"z":[{"x":2,"y":1},3,[2,1]]}',
    },
    { name: "no whitespace", value: { "a b": " x " }, json: '{"a b":" x "}' },
    { name: "empty containers", value: { a: {}, b: [] }, json: '{"a":{},"b":[]}' },
    {
      // UTF-16 code units, as RFC 8785 says: U+1F600 (surrogates D83D DE00) sorts before U+FF5E.
      name: "unicode keys by UTF-16 code unit",
      value: { "\uff5e": 1, "😀": 2, é: 3, z: 4, Z: 5, "": 6 },
      json: '{"":6,"Z":5,"z":4,"é":3,"😀":2,"～":1}',
    },
    { name: "unicode strings as is", value: "naïve ☃ 😀", json: '"naïve ☃ 😀"' },
    { name: "control characters escaped", value: 'a\nb\u0001"\\', json: '"a\\nb\\u0001\\"\\\\"' },
    { name: "lone surrogate escaped", value: "\ud800", json: '"\\ud800"' },
    { name: "1e21", value: 1e21, json: "1e+21" },
    { name: "1e20 stays integral", value: 1e20, json: "100000000000000000000" },
    { name: "-0 is 0", value: -0, json: "0" },
    { name: "0.1", value: 0.1, json: "0.1" },
    { name: "1e-7", value: 1e-7, json: "1e-7" },
    { name: "smallest double", value: 5e-324, json: "5e-324" },
    { name: "max safe integer", value: Number.MAX_SAFE_INTEGER, json: "9007199254740991" },
    { name: "undefined properties left out", value: { a: undefined, b: 1 }, json: '{"b":1}' },
    {
      name: "null-prototype object",
      value: Object.assign(Object.create(null), { b: 1, a: 0 }),
      json: '{"a":0,"b":1}',
    },
  ])("$name", ({ value, json }) => {
    expect(canonicalJson(value)).toBe(json);
    // Canonical JSON is JSON: it reads back as the same value (up to -0 and dropped undefined).
    expect(canonicalJson(JSON.parse(json))).toBe(json);
  });
});

describe("canonicalJson refuses what JSON would silently change", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  it.each([
    { name: "NaN", value: { a: Number.NaN }, path: "$.a" },
    { name: "Infinity", value: [1, Number.POSITIVE_INFINITY], path: "$[1]" },
    { name: "-Infinity", value: Number.NEGATIVE_INFINITY, path: "$" },
    { name: "undefined at the top", value: undefined, path: "$" },
    { name: "undefined inside an array", value: { r: [1, undefined] }, path: "$.r[1]" },
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point of the test
    { name: "a hole in an array", value: [1, , 3], path: "$[1]" },
    { name: "a function", value: { f: () => 1 }, path: "$.f" },
    { name: "a bigint", value: { big: { n: 1n } }, path: "$.big.n" },
    { name: "a symbol", value: [Symbol("s")], path: "$[0]" },
    { name: "a Date", value: { at: new Date(0) }, path: "$.at" },
    { name: "a typed array", value: { w: new Float32Array(2) }, path: "$.w" },
    { name: "a Map", value: new Map(), path: "$" },
    { name: "an odd key in the path", value: { "a.b": [Number.NaN] }, path: '$["a.b"][0]' },
    { name: "a cycle", value: cyclic, path: "$.self" },
  ])("$name at $path", ({ value, path }) => {
    let err: unknown;
    try {
      canonicalJson(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CanonicalJsonError);
    expect((err as CanonicalJsonError).path).toBe(path);
    expect((err as Error).message).toContain(path);
  });

  it("a shared (not cyclic) object is fine", () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });
});
