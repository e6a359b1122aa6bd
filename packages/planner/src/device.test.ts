import { describe, expect, it } from "vitest";
import { capabilitiesFromProfile, type DeviceProfileLike, type ProfileFigures } from "./device";
import { Planner } from "./select";
import { CATALOGUE } from "./test-fixtures";

const m = (best: number, median = best / 2) => ({ best, median });

// Figures in the shape @edgefleet/runtime measures; the simulated ones are the same host slowed
// by a class's stated factors (rpi4: fp32 12x, int8 48x, int4 24x; mcu: 150x, 200x, no int4).
const host: ProfileFigures = {
  kernels: {
    fp32: { status: "native", opsPerSecond: m(170e9) },
    fp16: { status: "native", opsPerSecond: m(170e9) },
    int8: { status: "native", opsPerSecond: m(460e9) },
    int4: { status: "slow", opsPerSecond: m(120e9) },
  },
  memoryBandwidthBytesPerSecond: m(30e9),
  cacheBandwidthBytesPerSecond: m(50e9),
  cacheBytes: 32 * 2 ** 20,
  runOverheadMs: m(0.015, 0.02),
  perOpOverheadMs: m(0.0003, 0.0005),
  modelLoadMs: m(1, 2),
  memoryBudgetBytes: 4e9,
};

function simulated(
  name: string,
  f: Record<string, number | null>,
  bw: number,
  ovh: number,
  cap: number,
): DeviceProfileLike {
  const kernels = { ...host.kernels };
  for (const k of Object.keys(kernels) as (keyof typeof kernels)[]) {
    const s = f[k];
    kernels[k] =
      s === null
        ? { status: "unsupported", opsPerSecond: m(0) }
        : { ...host.kernels[k], opsPerSecond: m(host.kernels[k].opsPerSecond.best / s) };
  }
  return {
    threads: 1,
    simulated: true,
    deviceClass: name,
    figures: {
      ...host,
      kernels,
      memoryBandwidthBytesPerSecond: m(30e9 / bw),
      cacheBandwidthBytesPerSecond: m(50e9 / bw),
      cacheBytes: 2 ** 20,
      runOverheadMs: m(0.015 * ovh),
      perOpOverheadMs: m(0.0003 * ovh),
      memoryBudgetBytes: cap,
    },
  };
}

const real: DeviceProfileLike = { threads: 2, simulated: false, deviceClass: "", figures: host };
const rpi4 = simulated("rpi4", { fp32: 12, fp16: 12, int8: 48, int4: 24 }, 6, 5, 2 ** 30);
const mcu = simulated(
  "mcu-gateway",
  { fp32: 150, fp16: null, int8: 200, int4: null },
  40,
  30,
  48 * 2 ** 20,
);

describe("capabilities from a profile", () => {
  it("plans on the best figures by default and drops unsupported kernels", () => {
    const c = capabilitiesFromProfile("mcu-1", mcu);
    expect(c).toMatchObject({
      deviceId: "mcu-1",
      deviceClass: "mcu-gateway",
      simulated: true,
      threads: 1,
    });
    expect(c.opsPerSecond.fp32).toBeCloseTo(170e9 / 150, -3);
    expect(c.opsPerSecond.int4).toBeUndefined();
    expect(c.kernels.int4).toBe("unsupported");
    expect(c.memoryBudgetBytes).toBe(48 * 2 ** 20);
  });

  it.each([
    { statistic: "best" as const, fp32: 170e9, run: 0.015 },
    { statistic: "median" as const, fp32: 85e9, run: 0.02 },
  ])("statistic $statistic", ({ statistic, fp32, run }) => {
    const c = capabilitiesFromProfile("h", real, {
      statistic,
      deviceClass: "x86-host",
      memoryBudgetBytes: 1e9,
    });
    expect(c.opsPerSecond.fp32).toBe(fp32);
    expect(c.runOverheadMs).toBe(run);
    expect(c.deviceClass).toBe("x86-host");
    expect(c.memoryBudgetBytes).toBe(1e9);
  });
});

describe("a mixed fleet of real and simulated devices", () => {
  const fleet = [
    capabilitiesFromProfile("host-1", real),
    capabilitiesFromProfile("rpi-1", rpi4),
    capabilitiesFromProfile("mcu-1", mcu),
  ];
  it.each([
    // Loose: everyone keeps the most accurate variant that fits; the MCU's 48 MB excludes fp32.
    { slo: 100, want: ["fp32", "fp32", "int8-dynamic"] },
    // 2 ms: the Pi moves to int8 (its int4 is derived from this host's int4, which is slower
    // than fp32 here), the MCU to the student.
    { slo: 2, want: ["fp32", "int8-dynamic", "student-256"] },
    // 0.5 ms: only the host and a student on the Pi; nothing on the MCU.
    { slo: 0.5, want: ["fp32", "student-256", null] },
  ])("SLO $slo ms", ({ slo, want }) => {
    const planner = new Planner(CATALOGUE);
    const decisions = planner.planFleet(fleet, { latencySloMs: slo });
    expect(decisions.map((d) => d.variantId)).toEqual(want);
    for (const d of decisions) {
      expect(d.reasons.length).toBeGreaterThan(0);
      expect(d.reasons[0]).toMatch(
        d.variantId ? /^chose / : /^no variant meets the policy; nearest is /,
      );
    }
  });
});
