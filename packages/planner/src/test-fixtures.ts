import type { DeviceCapabilities, VariantCost } from "./types";

// An MLP 784-2048-2048-10 catalogue: 11.6 MFLOP and 23.3 MB in fp32 per sample.
const MFLOP = 11.6e6;

export const CATALOGUE: VariantCost[] = [
  v("fp32", 0.982, 23.3e6, { fp32: MFLOP }, 6),
  // ORT computes fp16 weights in fp32 on CPU: smaller, same arithmetic, plus Cast nodes.
  { ...v("fp16", 0.9805, 11.7e6, { fp32: MFLOP }, 6), runtimeWeightBytes: 23.3e6 },
  v("int8-static", 0.98, 5.9e6, { int8: MFLOP, fp32: 0.02e6 }, 10),
  v("int8-dynamic", 0.981, 5.9e6, { int8: MFLOP, fp32: 0.05e6 }, 12),
  v("int4-b32", 0.975, 3.7e6, { int4: MFLOP }, 6),
  v("pruned-50", 0.978, 11.7e6, { fp32: MFLOP / 2 }, 6),
  v("student-256", 0.962, 0.8e6, { fp32: 0.4e6 }, 5),
];

function v(
  id: string,
  accuracy: number,
  artifactBytes: number,
  flops: VariantCost["flops"],
  opCount: number,
): VariantCost {
  return { id, accuracy, artifactBytes, flops, opCount, activationBytes: 2048 * 4 * 2 };
}

export const X86: DeviceCapabilities = {
  deviceId: "x86-1",
  deviceClass: "x86-gateway",
  threads: 2,
  opsPerSecond: { fp32: 100e9, int8: 400e9, int4: 150e9 },
  kernels: { fp32: "native", int8: "native", int4: "native", fp16: "unsupported" },
  memoryBandwidthBytesPerSecond: 20e9,
  cacheBandwidthBytesPerSecond: 100e9,
  cacheBytes: 32e6,
  runOverheadMs: 0.02,
  perOpOverheadMs: 0.005,
  memoryBudgetBytes: 4e9,
};

// Cortex-A72: no dot product, so int8 runs but slower than fp32.
export const RPI4: DeviceCapabilities = {
  deviceId: "rpi-1",
  deviceClass: "rpi4",
  threads: 4,
  opsPerSecond: { fp32: 8e9, int8: 6e9, int4: 10e9 },
  kernels: { fp32: "native", int8: "slow", int4: "native", fp16: "unsupported" },
  memoryBandwidthBytesPerSecond: 4e9,
  cacheBytes: 1e6,
  runOverheadMs: 0.1,
  perOpOverheadMs: 0.02,
  memoryBudgetBytes: 512e6,
};

export const MCU: DeviceCapabilities = {
  deviceId: "mcu-1",
  deviceClass: "mcu-gateway",
  threads: 1,
  opsPerSecond: { fp32: 0.5e9, int8: 1e9 },
  kernels: { fp32: "native", int8: "native", int4: "unsupported", fp16: "unsupported" },
  memoryBandwidthBytesPerSecond: 0.5e9,
  runOverheadMs: 0.5,
  perOpOverheadMs: 0.1,
  memoryBudgetBytes: 48e6,
};
