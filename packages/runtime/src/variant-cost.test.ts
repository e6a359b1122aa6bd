import { DataType, GraphBuilder, packInt4 } from "@edgefleet/onnx";
import { describe, expect, it } from "vitest";
import { analyzeVariant, costFromGraph } from "./variant-cost";

const floats = (n: number) => new Float32Array(n).fill(0.01);

describe("variant cost from a graph", () => {
  it.each([
    {
      case: "fp32 MatMul 784x256",
      build: (g: GraphBuilder) => {
        g.initializer("w", DataType.FLOAT, [784, 256], floats(784 * 256));
        g.node("MatMul", ["x", "w"], ["y"]);
      },
      flops: { fp32: 2 * 784 * 256 },
      activation: (784 + 256) * 4,
      weights: 784 * 256 * 4,
    },
    {
      case: "Gemm with transB reads N x K",
      build: (g: GraphBuilder) => {
        g.initializer("w", DataType.FLOAT, [10, 64], floats(640));
        g.node("Gemm", ["x", "w"], ["y"], { attrs: { transB: 1 } });
      },
      flops: { fp32: 2 * 64 * 10 },
      activation: (64 + 10) * 4,
      weights: 640 * 4,
    },
    {
      case: "QLinearMatMul counts as int8",
      build: (g: GraphBuilder) => {
        g.initializer("w", DataType.INT8, [128, 32], new Int8Array(128 * 32));
        g.node("QLinearMatMul", ["x", "s", "z", "w", "s", "z", "s", "z"], ["y"]);
      },
      flops: { int8: 2 * 128 * 32 },
      activation: (128 + 32) * 4,
      weights: 128 * 32,
    },
    {
      case: "MatMulNBits counts as int4 from K and N",
      build: (g: GraphBuilder) => {
        g.initializer("w", DataType.UINT8, [16, 2, 16], { raw: packInt4(new Array(1024).fill(1)) });
        g.node("MatMulNBits", ["x", "w", "s"], ["y"], {
          domain: "com.microsoft",
          attrs: { K: 64, N: 16, bits: 4, block_size: 32 },
        });
      },
      flops: { int4: 2 * 64 * 16 },
      activation: (64 + 16) * 4,
      weights: 512,
    },
  ])("$case", ({ build, flops, activation, weights }) => {
    const g = new GraphBuilder();
    build(g);
    g.node("Relu", ["y"], ["z"]);
    const c = costFromGraph(g.graph());
    expect(c.flops).toEqual(flops);
    expect(c.activationBytes).toBe(activation);
    expect(c.runtimeWeightBytes).toBe(weights);
    expect(c.opCount).toBe(2);
  });

  it("reads what ORT runs: fp16 weights behind a Cast are folded to fp32", async () => {
    const g = new GraphBuilder();
    g.input("x", DataType.FLOAT, ["N", 64]);
    g.initializer("w16", DataType.FLOAT16, [64, 32], floats(64 * 32));
    g.node("Cast", ["w16"], ["w"], { attrs: { to: DataType.FLOAT } });
    g.node("MatMul", ["x", "w"], ["y"]);
    g.output("y", DataType.FLOAT, ["N", 32]);
    const c = await analyzeVariant(g.toBytes(), { threads: 1 });
    expect(c.flops).toEqual({ fp32: 2 * 64 * 32 });
    // Shipped as 4 kB of fp16, resident as 8 kB of fp32.
    expect(c.runtimeWeightBytes).toBe(64 * 32 * 4);
    expect(c.opCount).toBe(1);
  });
});
