import { describe, expect, it } from "vitest";
import { variantCostFromRow } from "./plan-inputs";

describe("variantCostFromRow", () => {
  it("plans on the bytes the device loads and the stored cost", () => {
    const cost = variantCostFromRow({
      id: "v1",
      name: "int8-static",
      accuracy: 0.97,
      bytes: 840_000n,
      params: 210_000n,
      cost: { flops: { int8: 1.6e6 }, opCount: 9, activationBytes: 8192 },
    });
    expect(cost).toEqual({
      id: "v1",
      name: "int8-static",
      accuracy: 0.97,
      artifactBytes: 840_000,
      runtimeWeightBytes: undefined,
      params: 210_000,
      flops: { int8: 1.6e6 },
      opCount: 9,
      activationBytes: 8192,
    });
  });

  it("treats a variant without a measured accuracy as the least accurate", () => {
    const row = { id: "v", name: "v", accuracy: null, bytes: 1, params: 1, cost: {} };
    expect(variantCostFromRow(row)).toMatchObject({ accuracy: 0, flops: {}, opCount: 0 });
  });
});
