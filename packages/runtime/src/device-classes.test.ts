import { describe, expect, it } from "vitest";
import {
  DEVICE_CLASS_NAMES,
  DEVICE_CLASSES,
  deviceClass,
  simulateFacts,
  simulateFigures,
  simulateLatency,
  UnknownDeviceClassError,
} from "./device-classes";
import type { HardwareFacts } from "./hardware-facts";
import type { ProfileFigures } from "./microbench";

const m = (best: number, median = best / 2) => ({ best, median });
const HOST: ProfileFigures = {
  kernels: {
    fp32: { status: "native", opsPerSecond: m(100e9) },
    fp16: { status: "native", opsPerSecond: m(100e9) },
    int8: { status: "native", opsPerSecond: m(500e9) },
    int4: { status: "native", opsPerSecond: m(150e9) },
  },
  memoryBandwidthBytesPerSecond: m(30e9),
  cacheBandwidthBytesPerSecond: m(60e9),
  cacheBytes: 32e6,
  runOverheadMs: m(0.01),
  perOpOverheadMs: m(0.001),
  modelLoadMs: m(2),
  memoryBudgetBytes: 8e9,
};
const HOST_FACTS: HardwareFacts = {
  arch: "x64",
  cores: 2,
  ramTotalBytes: 16e9,
  ramFreeBytes: 12e9,
  cpuModel: "AMD EPYC",
  cpuFlags: ["avx512_vnni"],
  accelerators: [],
  os: "linux 6.1",
  simulated: false,
  deviceClass: "",
};

describe("simulated device classes", () => {
  it.each([
    // host int8 500 G / 200 = 2.5 G > fp32 100 G / 150 = 0.67 G: still native
    {
      name: "mcu-gateway",
      fp32: 100e9 / 150,
      int8: "native",
      int4: "unsupported",
      fp16: "unsupported",
      budget: 48 * 2 ** 20,
    },
    // 500 / 48 = 10.4 G > 100 / 12 = 8.3 G: native; int4 150 / 24 = 6.25 G < 8.3: slow
    {
      name: "rpi4",
      fp32: 100e9 / 12,
      int8: "native",
      int4: "slow",
      fp16: "native",
      budget: 2 ** 30,
    },
    {
      name: "jetson-nano",
      fp32: 10e9,
      int8: "native",
      int4: "slow",
      fp16: "native",
      budget: 1.5 * 2 ** 30,
    },
    {
      name: "x86-gateway",
      fp32: 25e9,
      int8: "native",
      int4: "native",
      fp16: "native",
      budget: 2 * 2 ** 30,
    },
  ])("$name", ({ name, fp32, int8, int4, fp16, budget }) => {
    const spec = deviceClass(name);
    const f = simulateFigures(HOST, spec);
    expect(f.kernels.fp32.opsPerSecond.best).toBeCloseTo(fp32, -3);
    expect(f.kernels.fp32.opsPerSecond.median).toBeCloseTo(fp32 / 2, -3);
    expect(f.kernels.int8.status).toBe(int8);
    expect(f.kernels.int4.status).toBe(int4);
    expect(f.kernels.fp16.status).toBe(fp16);
    expect(f.memoryBudgetBytes).toBe(budget);
    expect(f.memoryBandwidthBytesPerSecond.best).toBeCloseTo(30e9 / spec.bandwidthSlowdown, -3);
    expect(f.runOverheadMs.best).toBeCloseTo(0.01 * spec.overheadSlowdown, 9);
    // The host's figures are not touched.
    expect(HOST.kernels.fp32.opsPerSecond.best).toBe(100e9);
  });

  it("never caps memory above what the host has", () => {
    const small = { ...HOST, memoryBudgetBytes: 10e6 };
    expect(simulateFigures(small, DEVICE_CLASSES.rpi4).memoryBudgetBytes).toBe(10e6);
  });

  it.each(DEVICE_CLASS_NAMES)("%s facts say they are simulated", (name) => {
    const f = simulateFacts(HOST_FACTS, deviceClass(name));
    expect(f.simulated).toBe(true);
    expect(f.deviceClass).toBe(name);
    expect(f.cpuModel).toMatch(/^simulated /);
  });

  it("keeps the measured latency next to the derived one", () => {
    const s = simulateLatency({ bestMs: 1, medianMs: 2, p90Ms: 3 }, DEVICE_CLASSES.rpi4, "int8");
    expect(s).toMatchObject({
      bestMs: 48,
      medianMs: 96,
      p90Ms: 144,
      simulated: true,
      deviceClass: "rpi4",
      factor: 48,
    });
    expect(s.measured).toEqual({ bestMs: 1, medianMs: 2, p90Ms: 3 });
    expect(() => simulateLatency(s, DEVICE_CLASSES["mcu-gateway"], "int4")).toThrow(
      /cannot run int4/,
    );
  });

  it("rejects unknown classes", () => {
    expect(() => deviceClass("toaster")).toThrow(UnknownDeviceClassError);
  });
});
