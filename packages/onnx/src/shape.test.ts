import { describe, expect, it } from "vitest";
import { GraphBuilder } from "./builder";
import { UnsupportedOpError } from "./errors";
import { DataType } from "./proto";
import { assertSupportedOps, inferShapes } from "./shape";

function cnn() {
  const b = new GraphBuilder();
  b.input("input", DataType.FLOAT, ["N", 1, 28, 28]);
  b.initializer("cw", DataType.FLOAT, [8, 1, 5, 5], new Float32Array(200));
  b.initializer("shape", DataType.INT64, [2], [0, -1]);
  b.initializer("fw", DataType.FLOAT, [8 * 12 * 12, 10], new Float32Array(11520));
  const [c] = b.node("Conv", ["input", "cw"], ["c"], { attrs: { kernel_shape: [5, 5] } });
  const [r] = b.node("Relu", [c], ["r"]);
  const [p] = b.node("MaxPool", [r], ["p"], { attrs: { kernel_shape: [2, 2], strides: [2, 2] } });
  const [f] = b.node("Reshape", [p, "shape"], ["f"]);
  b.node("MatMul", [f, "fw"], ["logits"]);
  b.output("logits", DataType.FLOAT, ["N", 10]);
  return b.build();
}

describe("inferShapes", () => {
  it("follows a small CNN", () => {
    const s = inferShapes(cnn().graph ?? {}, { input: [64, 1, 28, 28] });
    expect(s.get("c")?.dims).toEqual([64, 8, 24, 24]);
    expect(s.get("p")?.dims).toEqual([64, 8, 12, 12]);
    expect(s.get("f")?.dims).toEqual([64, 1152]);
    expect(s.get("logits")?.dims).toEqual([64, 10]);
  });

  it("keeps symbolic batch dims", () => {
    const s = inferShapes(cnn().graph ?? {});
    expect(s.get("c")?.dims).toEqual(["N", 8, 24, 24]);
  });

  it("names the op and node it cannot handle", () => {
    const b = new GraphBuilder();
    b.input("x", DataType.FLOAT, [1, 4]);
    b.node("Einsum", ["x", "x"], ["y"], { name: "weird_node" });
    b.output("y", DataType.FLOAT);
    const g = b.build().graph ?? {};
    expect(() => inferShapes(g)).toThrow(UnsupportedOpError);
    expect(() => assertSupportedOps(g)).toThrow(/Einsum at node "weird_node"/);
  });
});
