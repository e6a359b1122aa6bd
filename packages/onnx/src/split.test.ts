import { describe, expect, it } from "vitest";
import { GraphBuilder } from "./builder";
import { DataType, toNumber } from "./proto";
import { findCutCandidates, InvalidCutError, planSplit, splitModel } from "./split";

/** x -> [MatMul W1, Add b1, Relu] -> [MatMul W2, Add b2, Relu] -> [MatMul W3] -> y */
function mlp() {
  const g = new GraphBuilder();
  g.input("x", DataType.FLOAT, ["N", 4]);
  const w = (name: string, k: number, n: number) =>
    g.initializer(name, DataType.FLOAT, [k, n], new Float32Array(k * n).fill(0.1));
  const b = (name: string, n: number) =>
    g.initializer(name, DataType.FLOAT, [n], new Float32Array(n));
  const [h1] = g.node("MatMul", ["x", w("W1", 4, 8)], ["h1"]);
  const [a1] = g.node("Add", [h1, b("b1", 8)], ["a1"]);
  const [r1] = g.node("Relu", [a1], ["r1"]);
  const [h2] = g.node("MatMul", [r1, w("W2", 8, 6)], ["h2"]);
  const [a2] = g.node("Add", [h2, b("b2", 6)], ["a2"]);
  const [r2] = g.node("Relu", [a2], ["r2"]);
  g.node("MatMul", [r2, w("W3", 6, 3)], ["y"]);
  g.output("y", DataType.FLOAT, ["N", 3]);
  return g.build();
}

/** x -> Relu -> a; a -> Neg -> b; Add(a, b) -> y: no single-tensor boundary after Relu's consumer */
function branchy() {
  const g = new GraphBuilder();
  g.input("x", DataType.FLOAT, ["N", 4]);
  g.node("Relu", ["x"], ["a"]);
  g.node("Neg", ["a"], ["b"]);
  g.node("Add", ["a", "b"], ["y"]);
  g.output("y", DataType.FLOAT, ["N", 4]);
  return g.build();
}

describe("findCutCandidates", () => {
  it("names the boundaries before each weighted layer, with the cost before them", () => {
    const { candidates, totalParamBytes, totalFlops } = findCutCandidates(mlp());
    expect(candidates.map((c) => [c.tensor, c.after, c.elementsPerSample])).toEqual([
      ["r1", 3, 8],
      ["r2", 6, 6],
    ]);
    expect(candidates[0].paramBytesBefore).toBe((32 + 8) * 4);
    expect(candidates[1].paramBytesBefore).toBe((32 + 8 + 48 + 6) * 4);
    expect(totalParamBytes).toBe((32 + 8 + 48 + 6 + 18) * 4);
    expect(candidates[0].flopsBefore).toBe(2 * 4 * 8 + 8 + 8);
    expect(totalFlops).toBe(2 * 4 * 8 + 16 + 2 * 8 * 6 + 12 + 2 * 6 * 3);
  });

  it("finds none where two tensors are live", () => {
    expect(findCutCandidates(branchy()).candidates).toEqual([]);
  });
});

describe("planSplit", () => {
  it.each([
    [
      "one cut",
      [["r1"]],
      [
        [0, 1, 2],
        [3, 4, 5, 6],
      ],
      [["x"], ["r1"]],
      [["r1"], ["y"]],
    ],
    [
      "two cuts",
      [["r1"], ["r2"]],
      [[0, 1, 2], [3, 4, 5], [6]],
      [["x"], ["r1"], ["r2"]],
      [["r1"], ["r2"], ["y"]],
    ],
    ["a cut mid-layer", [["h1"]], [[0], [1, 2, 3, 4, 5, 6]], [["x"], ["h1"]], [["h1"], ["y"]]],
  ])("%s", (_name, cuts, nodes, inputs, outputs) => {
    const plan = planSplit(mlp(), cuts);
    expect(plan.stages.map((s) => s.nodes)).toEqual(nodes);
    expect(plan.stages.map((s) => s.inputs)).toEqual(inputs);
    expect(plan.stages.map((s) => s.outputs)).toEqual(outputs);
  });

  it("gives each initializer only to the stage that reads it", () => {
    const plan = planSplit(mlp(), [["r1"], ["r2"]]);
    expect(plan.stages.map((s) => s.initializers)).toEqual([["W1", "b1"], ["W2", "b2"], ["W3"]]);
    expect(plan.stages.map((s) => s.paramBytes)).toEqual([160, 216, 72]);
  });

  it.each([
    ["an unknown tensor", [["nope"]], /no node produces tensor "nope"/],
    ["an empty cut", [[]], /cuts.0 names no tensor/],
    ["cuts out of order", [["r2"], ["r1"]], /cuts must be in graph order/],
    ["the same tensor twice", [["r1"], ["r1"]], /is in two cuts/],
    [
      "a tensor that skips a stage",
      [["a"], ["b"]],
      /tensor "a" made in stage 1 is needed by stage 3/,
    ],
  ])("refuses %s", (_name, cuts, message) => {
    const model = _name.includes("skips") ? branchy() : mlp();
    expect(() => planSplit(model, cuts)).toThrow(InvalidCutError);
    expect(() => planSplit(model, cuts)).toThrow(message);
  });

  it("builds stage models with typed inputs and outputs, leaving the source untouched", () => {
    const source = mlp();
    const before = JSON.stringify(source);
    const { models } = splitModel(source, [["r1"]]);
    expect(JSON.stringify(source)).toBe(before);
    expect(models[1].graph?.input?.[0]?.name).toBe("r1");
    expect(
      models[1].graph?.input?.[0]?.type?.tensorType?.shape?.dim?.map(
        (d) => d.dimParam ?? toNumber(d.dimValue),
      ),
    ).toEqual(["N", 8]);
    expect(models[1].graph?.initializer?.map((t) => t.name)).toEqual(["W2", "b2", "W3"]);
    expect(models[0].opsetImport?.map((o) => [o.domain, toNumber(o.version)])).toEqual([["", 17]]);
  });
});
