import { DataType, GraphBuilder } from "@edgefleet/onnx";
import { describe, expect, it } from "vitest";
import { describeInput, measureVariantLatency, VariantInputError } from "./variant-latency";

function mlp(inputs: number, hidden: number): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input("x", DataType.FLOAT, ["N", inputs]);
  const w1 = g.initializer(
    "w1",
    DataType.FLOAT,
    [inputs, hidden],
    new Float32Array(inputs * hidden).fill(0.01),
  );
  const w2 = g.initializer(
    "w2",
    DataType.FLOAT,
    [hidden, 10],
    new Float32Array(hidden * 10).fill(0.01),
  );
  const [h] = g.node("MatMul", [x, w1]);
  const [a] = g.node("Relu", [h]);
  g.node("MatMul", [a, w2], ["y"]);
  g.output("y", DataType.FLOAT, ["N", 10]);
  return g.toBytes();
}

describe("variant latency", () => {
  it("measures batch 1 and the rollout batch", async () => {
    const l = await measureVariantLatency(mlp(784, 256), { threads: 1, batch: 32, iterations: 10 });
    expect(l.simulated).toBe(false);
    expect(l.measured).toBeUndefined();
    expect(l.batch1.samples).toBe(10);
    expect(l.batch1.bestMs).toBeGreaterThan(0);
    expect(l.batch1.bestMs).toBeLessThanOrEqual(l.batch1.medianMs);
    // 32 samples cost more than one, even on a noisy machine.
    expect(l.batchN.bestMs).toBeGreaterThan(l.batch1.bestMs);
  });

  it("reports a simulated class with the measured base beside it", async () => {
    const l = await measureVariantLatency(mlp(64, 32), {
      threads: 1,
      batch: 4,
      iterations: 5,
      simulatedClass: "rpi4",
      kernel: "fp32",
    });
    expect(l).toMatchObject({ simulated: true, deviceClass: "rpi4" });
    expect(l.batch1.bestMs).toBeCloseTo(l.measured!.batch1.bestMs * 12, 9);
    expect(l.loadMs).toBeCloseTo(l.measured!.loadMs * 6, 9);
  });

  it.each([
    {
      case: "two inputs",
      build: () => {
        const g = new GraphBuilder();
        g.input("a", DataType.FLOAT, [1, 2]);
        g.input("b", DataType.FLOAT, [1, 2]);
        g.node("Add", ["a", "b"], ["y"]);
        g.output("y", DataType.FLOAT);
        return g.toBytes();
      },
      err: /one runtime input/,
    },
    {
      case: "int input",
      build: () => {
        const g = new GraphBuilder();
        g.input("a", DataType.INT64, [1, 2]);
        g.node("Identity", ["a"], ["y"]);
        g.output("y", DataType.INT64);
        return g.toBytes();
      },
      err: /not float32/,
    },
  ])("refuses $case", ({ build, err }) => {
    expect(() => describeInput(build())).toThrow(VariantInputError);
    expect(() => describeInput(build())).toThrow(err);
  });
});
