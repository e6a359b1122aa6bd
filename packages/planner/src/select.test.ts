import { describe, expect, it } from "vitest";
import { Planner, planDevice } from "./select";
import { CATALOGUE, MCU, RPI4, X86 } from "./test-fixtures";
import type { DeviceCapabilities, PlanPolicy } from "./types";

const devices: Record<string, DeviceCapabilities> = { x86: X86, rpi4: RPI4, mcu: MCU };

describe("selection", () => {
  it.each([
    // A loose SLO keeps full precision where it fits.
    { case: "loose SLO, strong device", dev: "x86", policy: { latencySloMs: 50 }, want: "fp32" },
    { case: "loose SLO, rpi4", dev: "rpi4", policy: { latencySloMs: 50 }, want: "fp32" },
    // Tight SLOs push weak devices down the catalogue.
    { case: "tight SLO, rpi4 -> int4", dev: "rpi4", policy: { latencySloMs: 2 }, want: "int4-b32" },
    {
      case: "tight SLO at batch 32, rpi4 -> pruned",
      dev: "rpi4",
      policy: { latencySloMs: 30, batch: 32 },
      want: "pruned-50",
    },
    {
      case: "tight SLO, mcu -> student",
      dev: "mcu",
      policy: { latencySloMs: 5 },
      want: "student-256",
    },
    // The MCU's 48 MB budget excludes fp32/fp16 even with a loose SLO.
    { case: "memory cap, mcu", dev: "mcu", policy: { latencySloMs: 100 }, want: "int8-dynamic" },
    {
      case: "accuracy floor above the only fast variant",
      dev: "mcu",
      policy: { latencySloMs: 30, accuracyFloor: 0.97 },
      want: "int8-dynamic",
    },
    {
      case: "min-latency",
      dev: "x86",
      policy: { latencySloMs: 50, objective: "min-latency" },
      want: "student-256",
    },
    {
      case: "min-bytes skips a kernel the device lacks",
      dev: "mcu",
      // int8 static and dynamic weigh the same: the tie goes to the more accurate.
      policy: { latencySloMs: 50, objective: "min-bytes", accuracyFloor: 0.97 },
      want: "int8-dynamic",
    },
  ] as { case: string; dev: string; policy: PlanPolicy; want: string }[])(
    "$case",
    ({ dev, policy, want }) => {
      const d = planDevice(devices[dev], CATALOGUE, policy);
      expect(d.variantId).toBe(want);
      expect(d.reasons[0]).toMatch(new RegExp(`^chose ${want}: accuracy`));
      // Every variant the objective preferred is explained by at least one violation.
      for (const r of d.rejected) expect(r.violations.length).toBeGreaterThan(0);
    },
  );

  it("explains in words why better variants were passed over", () => {
    const d = planDevice(RPI4, CATALOGUE, { latencySloMs: 2 });
    expect(d.reasons).toContainEqual(
      expect.stringMatching(/^fp32: predicted 6\.\d ms > SLO 2 ms$/),
    );
    expect(d.rejected.map((r) => r.variantId)).toEqual([
      "fp32",
      "int8-dynamic",
      "fp16",
      "int8-static",
      "pruned-50",
    ]);
    const lat = d.rejected[0].violations[0];
    expect(lat).toMatchObject({ constraint: "latency", limit: 2 });
    expect(lat.value).toBeGreaterThan(2);
  });

  it("states memory and kernel failures", () => {
    const d = planDevice(MCU, CATALOGUE, { latencySloMs: 100, objective: "min-bytes" });
    expect(d.variantId).toBe("student-256");
    const loose = planDevice(MCU, CATALOGUE, { latencySloMs: 100 });
    expect(loose.reasons).toContainEqual(
      expect.stringMatching(/^fp32: needs 76\.\d MB > budget 48\.0 MB$/),
    );
    const int4 = planDevice(MCU, CATALOGUE, {
      latencySloMs: 100,
      accuracyFloor: 0.97,
      objective: "min-bytes",
    });
    expect(int4.reasons).toContain("int4-b32: device cannot run int4 kernels");
  });

  it.each([
    {
      case: "SLO below every prediction",
      policy: { latencySloMs: 1 },
      nearest: "student-256",
      constraint: "latency",
      text: /^no variant meets the policy; nearest is student-256: predicted 2\.6 ms > SLO 1 ms$/,
    },
    {
      case: "accuracy floor above the catalogue",
      policy: { latencySloMs: 100, accuracyFloor: 0.99 },
      nearest: "int8-dynamic",
      constraint: "accuracy",
      text: /nearest is int8-dynamic: accuracy 98\.1% < floor 99\.0%$/,
    },
  ] as { case: string; policy: PlanPolicy; nearest: string; constraint: string; text: RegExp }[])(
    "impossible policy: $case",
    ({ policy, nearest, constraint, text }) => {
      const d = planDevice(MCU, CATALOGUE, policy);
      expect(d.variantId).toBeNull();
      expect(d.chosen).toBeNull();
      expect(d.nearest?.variantId).toBe(nearest);
      expect(d.nearest?.violations.map((v) => v.constraint)).toEqual([constraint]);
      expect(d.reasons[0]).toMatch(text);
    },
  );

  it("breaks accuracy ties toward the faster variant", () => {
    const twins = [
      { ...CATALOGUE[0], id: "slow-twin", accuracy: 0.98 },
      { ...CATALOGUE[4], id: "fast-twin", accuracy: 0.9797 },
    ];
    expect(planDevice(RPI4, twins, { latencySloMs: 50 }).variantId).toBe("fast-twin");
    expect(planDevice(RPI4, twins, { latencySloMs: 50, accuracyTie: 0 }).variantId).toBe(
      "slow-twin",
    );
  });

  it("plans a mixed fleet with one planner", () => {
    const planner = new Planner(CATALOGUE);
    const out = planner.planFleet([X86, RPI4, MCU], { latencySloMs: 2 });
    expect(out.map((d) => d.variantId)).toEqual(["fp32", "int4-b32", null]);
  });

  it("caps how many rejections it spells out", () => {
    const d = new Planner(CATALOGUE, { maxRejections: 2 }).plan(MCU, { latencySloMs: 5 });
    expect(d.rejected).toHaveLength(2);
    expect(d.reasons.at(-1)).toMatch(/^4 more preferred variants also fail$/);
  });
});
