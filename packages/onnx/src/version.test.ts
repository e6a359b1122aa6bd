import { describe, expect, it } from "vitest";
import { type AttrValue, GraphBuilder } from "./builder";
import { UnsupportedOpError } from "./errors";
import { findAttr, opsetVersion } from "./graph";
import { DataType } from "./proto";
import { tensorToFloat32 } from "./tensor";
import { upgradeOpset } from "./version";

function old(op: string, attrs: Record<string, AttrValue>, rank = 2) {
  const b = new GraphBuilder();
  b.input("x", DataType.FLOAT, Array(rank).fill(4));
  b.node(op, ["x"], ["y"], { name: "n", attrs });
  b.output("y", DataType.FLOAT);
  return b.build({ opsets: { "": 9 } });
}

describe("upgradeOpset", () => {
  it("moves Clip min/max attributes to scalar inputs", () => {
    const m = old("Clip", { min: { float: 0 }, max: { float: 6 } });
    upgradeOpset(m, 13);
    const n = m.graph?.node?.[0];
    expect(n?.input?.length).toBe(3);
    expect(findAttr(n ?? {}, "min")).toBeUndefined();
    const inits = new Map((m.graph?.initializer ?? []).map((t) => [t.name, t]));
    expect([...tensorToFloat32(inits.get(n?.input?.[2]) ?? {})]).toEqual([6]);
    expect(opsetVersion(m)).toBe(13);
  });

  it.each([
    ["Slice", { starts: [0], ends: [2], axes: [1] }, 4],
    ["Squeeze", { axes: [0] }, 2],
    ["Unsqueeze", { axes: [0] }, 2],
  ])("%s gets its attributes as int64 inputs", (op, attrs, inputs) => {
    const m = old(op, attrs);
    upgradeOpset(m, 13);
    expect(m.graph?.node?.[0].input?.length).toBe(inputs);
    expect(m.graph?.node?.[0].attribute ?? []).toEqual([]);
  });

  it("keeps a last-axis Softmax as it is", () => {
    const m = old("Softmax", { axis: 1 }, 2);
    upgradeOpset(m, 13);
    expect(m.graph?.node?.map((n) => n.opType)).toEqual(["Softmax"]);
  });

  it("spells out an inner-axis Softmax as Flatten -> Softmax -> Reshape", () => {
    const m = old("Softmax", { axis: 1 }, 3);
    upgradeOpset(m, 13);
    expect(m.graph?.node?.map((n) => n.opType)).toEqual(["Shape", "Flatten", "Softmax", "Reshape"]);
    expect(m.graph?.node?.[3].output).toEqual(["y"]);
  });

  it("refuses what it cannot convert, naming the node", () => {
    const m = old("Upsample", {});
    expect(() => upgradeOpset(m, 13)).toThrow(UnsupportedOpError);
  });
});
