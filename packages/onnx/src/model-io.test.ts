import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "./builder";
import { InvalidModelError } from "./errors";
import { attrInt, opHistogram, pruneUnused, topoSort } from "./graph";
import { decodeModel, encodeModel, readModelFile, writeModelFile } from "./model-io";
import { DataType } from "./proto";
import { tensorToFloat32 } from "./tensor";

function tinyMlp() {
  const b = new GraphBuilder();
  b.input("input", DataType.FLOAT, ["N", 4]);
  b.initializer("W", DataType.FLOAT, [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
  b.initializer("B", DataType.FLOAT, [2], [0.5, -0.5]);
  b.initializer("unused", DataType.FLOAT, [1], [9]);
  const [h] = b.node("MatMul", ["input", "W"]);
  const [s] = b.node("Add", [h, "B"]);
  b.node("Softmax", [s], ["logits"], { attrs: { axis: -1 } });
  b.output("logits", DataType.FLOAT, ["N", 2]);
  return b.build();
}

describe("model IO", () => {
  it("encodes and decodes a built model", () => {
    const m = decodeModel(encodeModel(tinyMlp()));
    expect(m.graph?.node?.map((n) => n.opType)).toEqual(["MatMul", "Add", "Softmax"]);
    expect([...tensorToFloat32(m.graph?.initializer?.[0] ?? {})]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(attrInt(m.graph?.node?.[2] ?? {}, "axis", 0)).toBe(-1);
    expect(opHistogram(m.graph ?? {})).toEqual({ MatMul: 1, Add: 1, Softmax: 1 });
  });

  it.each([
    ["empty", new Uint8Array()],
    ["text", new TextEncoder().encode("hello, this is not a model")],
    ["random", Uint8Array.from({ length: 256 }, (_, i) => (i * 7919) % 251)],
  ])("rejects %s bytes with InvalidModelError", (_, bytes) => {
    expect(() => decodeModel(bytes)).toThrow(InvalidModelError);
  });

  it("writes atomically and leaves no temp file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "onnx-io-"));
    const path = join(dir, "m.onnx");
    const bytes = await writeModelFile(path, tinyMlp());
    expect(new Uint8Array(await readFile(path))).toEqual(bytes);
    expect(await readdir(dir)).toEqual(["m.onnx"]);
    expect((await readModelFile(path)).graph?.node?.length).toBe(3);
  });

  it("prunes unused initializers and keeps topological order", () => {
    const m = tinyMlp();
    pruneUnused(m.graph ?? {});
    expect(m.graph?.initializer?.map((t) => t.name)).toEqual(["W", "B"]);
    expect(topoSort(m.graph ?? {}).map((n) => n.opType)).toEqual(["MatMul", "Add", "Softmax"]);
  });
});
