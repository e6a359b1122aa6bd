import { DataType, GraphBuilder } from "@edgefleet/onnx";
import { describe, expect, it } from "vitest";
import {
  createSession,
  floatTensor,
  measureLatency,
  runBatch,
  SessionCreateError,
  summarizeLatency,
} from "./session";

function affine(): Uint8Array {
  const b = new GraphBuilder();
  b.input("input", DataType.FLOAT, ["N", 3]);
  b.initializer("W", DataType.FLOAT, [3, 2], [1, 0, 0, 1, 1, 1]);
  b.initializer("B", DataType.FLOAT, [2], [10, 20]);
  const [h] = b.node("MatMul", ["input", "W"]);
  b.node("Add", [h, "B"], ["logits"]);
  b.output("logits", DataType.FLOAT, ["N", 2]);
  return b.toBytes();
}

describe("session", () => {
  it("runs a batch through real ONNX Runtime", async () => {
    const s = await createSession(affine(), { threads: 1 });
    const out = await runBatch(s, "input", Float32Array.from([1, 2, 3, -1, 0, 1]), [2, 3]);
    expect(out.logits.dims).toEqual([2, 2]);
    expect([...(out.logits.data as Float32Array)]).toEqual([14, 25, 10, 21]);
    await s.release();
  });

  it("accepts disable_quant_qdq", async () => {
    const s = await createSession(affine(), { disableQuantQdq: true });
    expect(s.inputNames).toEqual(["input"]);
    await s.release();
  });

  it("wraps load failures in SessionCreateError", async () => {
    await expect(createSession(new Uint8Array([1, 2, 3]))).rejects.toBeInstanceOf(
      SessionCreateError,
    );
  });

  it("measures latency with the requested sample count", async () => {
    const s = await createSession(affine(), { threads: 1 });
    const stats = await measureLatency(
      s,
      { input: floatTensor(new Float32Array(3), [1, 3]) },
      { warmup: 1, iterations: 7 },
    );
    expect(stats.samples).toBe(7);
    expect(stats.bestMs).toBeGreaterThan(0);
    expect(stats.bestMs).toBeLessThanOrEqual(stats.medianMs);
    expect(stats.medianMs).toBeLessThanOrEqual(stats.p90Ms);
    await s.release();
  });
});

describe("summarizeLatency", () => {
  it.each([
    [[3, 1, 2], { bestMs: 1, medianMs: 2, p90Ms: 3, samples: 3 }],
    [[4, 1, 2, 3], { bestMs: 1, medianMs: 2.5, p90Ms: 4, samples: 4 }],
    [[5], { bestMs: 5, medianMs: 5, p90Ms: 5, samples: 1 }],
  ])("%j", (times, expected) => {
    expect(summarizeLatency(times)).toEqual(expected);
  });
});
