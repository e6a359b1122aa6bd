import { describe, expect, it } from "vitest";
import { predictLatency } from "./latency-model";
import { DEFAULT_MEMORY_MODEL, estimateMemory } from "./memory-model";
import type { DeviceCapabilities, VariantCost } from "./types";

const device: DeviceCapabilities = {
  deviceId: "d",
  deviceClass: "",
  threads: 1,
  opsPerSecond: { fp32: 1e9, int8: 4e9 },
  kernels: { fp32: "native", int8: "native", int4: "unsupported" },
  memoryBandwidthBytesPerSecond: 1e9,
  cacheBandwidthBytesPerSecond: 10e9,
  cacheBytes: 1e6,
  runOverheadMs: 0.1,
  perOpOverheadMs: 0.01,
  memoryBudgetBytes: 1e9,
};

const variant = (v: Partial<VariantCost>): VariantCost => ({
  id: "v",
  accuracy: 0.9,
  artifactBytes: 0,
  flops: {},
  opCount: 0,
  activationBytes: 0,
  ...v,
});

describe("latency model", () => {
  it.each([
    // 1e7 FLOP at 1 GFLOP/s = 10 ms, 4 MB at 1 GB/s = 4 ms: compute bound, + overhead 0.1 + 10 x 0.01
    {
      case: "compute bound",
      v: { flops: { fp32: 1e7 }, artifactBytes: 4e6, opCount: 10 },
      batch: 1,
      ms: 10.2,
      bound: "compute",
    },
    // 40 MB at 1 GB/s = 40 ms dominates 10 ms of arithmetic
    {
      case: "memory bound",
      v: { flops: { fp32: 1e7 }, artifactBytes: 40e6, opCount: 10 },
      batch: 1,
      ms: 40.2,
      bound: "memory",
    },
    // 0.5 MB fits the 1 MB cache: 0.05 ms at 10 GB/s; overhead 0.1 + 0.5 dominates
    {
      case: "overhead bound, cached",
      v: { artifactBytes: 0.5e6, opCount: 50 },
      batch: 1,
      ms: 0.65,
      bound: "overhead",
    },
    // int8 at 4 GOP/s: 2.5 ms
    { case: "int8 kernel speed", v: { flops: { int8: 1e7 } }, batch: 1, ms: 2.6, bound: "compute" },
    // Arithmetic scales with batch, weights are read once: 8 x 10 ms + 4 ms weights => 80 ms
    {
      case: "batch scales compute",
      v: { flops: { fp32: 1e7 }, artifactBytes: 4e6 },
      batch: 8,
      ms: 80.1,
      bound: "compute",
    },
    // Activations scale with batch: 1 MB weights + 8 x 1 MB activations = 9 MB at 1 GB/s
    {
      case: "batch scales activations",
      v: { artifactBytes: 1e6, activationBytes: 1e6 },
      batch: 8,
      ms: 9.1,
      bound: "memory",
    },
  ] as { case: string; v: Partial<VariantCost>; batch: number; ms: number; bound: string }[])(
    "$case",
    ({ v, batch, ms, bound }) => {
      const b = predictLatency(variant(v), device, batch);
      expect(b.totalMs).toBeCloseTo(ms, 6);
      expect(b.bound).toBe(bound);
    },
  );

  it("lists kernels the device cannot run", () => {
    const b = predictLatency(variant({ flops: { int4: 1e6, fp32: 1e3 } }), device);
    expect(b.unsupported).toEqual(["int4"]);
    expect(b.dominantKernel).toBe("int4");
  });

  it("reads fp16-folded weights at their runtime size", () => {
    const half = variant({ artifactBytes: 20e6, runtimeWeightBytes: 40e6 });
    expect(predictLatency(half, device).memoryMs).toBeCloseTo(40, 6);
  });
});

describe("memory model", () => {
  it.each([
    {
      case: "weights twice + runtime",
      v: { artifactBytes: 10e6 },
      batch: 1,
      total: 20e6 + DEFAULT_MEMORY_MODEL.runtimeBaseBytes,
    },
    {
      case: "activations per sample",
      v: { artifactBytes: 0, activationBytes: 1e6 },
      batch: 4,
      total: 8e6 + DEFAULT_MEMORY_MODEL.runtimeBaseBytes,
    },
    {
      case: "fp16 folded to fp32",
      v: { artifactBytes: 5e6, runtimeWeightBytes: 10e6 },
      batch: 1,
      total: 20e6 + DEFAULT_MEMORY_MODEL.runtimeBaseBytes,
    },
  ] as { case: string; v: Partial<VariantCost>; batch: number; total: number }[])(
    "$case",
    ({ v, batch, total }) => {
      expect(estimateMemory(variant(v), batch).totalBytes).toBe(total);
    },
  );
});
