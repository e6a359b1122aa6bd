import { describe, expect, it } from "vitest";
import { evaluateWave, type TargetObservation, type WaveObservation } from "./gates";
import { gatesSchema } from "./strategy";

const config = gatesSchema.parse({ agreement: { enabled: true } });
const target = (i: number, over: Partial<TargetObservation> = {}): TargetObservation => ({
  deviceId: `d${i}`,
  deviceClass: i % 2 ? "rpi4" : "x86-gateway",
  state: "applied",
  promisedAccuracy: 0.975,
  requests: 100,
  errors: 0,
  quantileMs: 10,
  shadowCompared: 50,
  shadowAgreed: 49,
  canary: { samples: 200, correct: 194 },
  ...over,
});
const obs = (over: Partial<WaveObservation> = {}): WaveObservation => ({
  wave: 1,
  targets: Array.from({ length: 10 }, (_, i) => target(i)),
  classes: [
    { deviceClass: "rpi4", requests: 500, errors: 0, quantileMs: 12 },
    { deviceClass: "x86-gateway", requests: 500, errors: 0, quantileMs: 5 },
  ],
  bakeElapsedMs: 70_000,
  bakeMs: 60_000,
  sloMs: 30,
  metric: "accuracy",
  canarySet: true,
  ...over,
});
const gate = (o: WaveObservation, name: string) =>
  evaluateWave(o, config).gates.find((g) => g.gate === name);

describe("evaluateWave", () => {
  it.each([
    ["a healthy, baked wave", obs(), "advance"],
    ["a healthy wave still baking", obs({ bakeElapsedMs: 10_000 }), "wait"],
    ["a wave not all assigned yet", obs({ bakeElapsedMs: null }), "wait"],
    [
      "devices still applying",
      obs({ targets: [target(0, { state: "assigned" }), target(1)] }),
      "wait",
    ],
  ])("%s -> %s", (_what, o, verdict) => {
    expect(evaluateWave(o, config).verdict).toBe(verdict);
  });

  it.each([
    [
      "too many failed installs",
      obs({
        targets: [
          target(0, { state: "failed" }),
          target(1, { state: "failed" }),
          target(2, { state: "failed" }),
          ...Array.from({ length: 7 }, (_, i) => target(i + 3)),
        ],
      }),
      "wave 2 halted: 3 of 10 devices failed to install (30% > 20%)",
    ],
    [
      "a slow class",
      obs({
        classes: [
          { deviceClass: "rpi4", requests: 500, errors: 0, quantileMs: 41 },
          { deviceClass: "x86-gateway", requests: 500, errors: 0, quantileMs: 5 },
        ],
        targets: Array.from({ length: 10 }, (_, i) =>
          target(i, { quantileMs: i % 2 && i < 6 ? 45 : 10 }),
        ),
      }),
      "wave 2 halted: p95 41 ms > SLO 30 ms on rpi4, 3 of 5 devices",
    ],
    [
      "errors",
      obs({ classes: [{ deviceClass: "rpi4", requests: 1000, errors: 50, quantileMs: 10 }] }),
      "wave 2 halted: error rate 5% > 1% (50 of 1000 requests)",
    ],
    [
      "a variant that disagrees with the previous one",
      obs({ targets: Array.from({ length: 10 }, (_, i) => target(i, { shadowAgreed: 20 })) }),
      "wave 2 halted: agreement with the previous variant 40% < 90% (500 comparisons on 10 devices)",
    ],
    [
      "a canary far below what compression promised",
      obs({
        targets: Array.from({ length: 10 }, (_, i) =>
          target(i, { canary: { samples: 200, correct: 122 } }),
        ),
      }),
      "wave 2 halted: canary accuracy 61% vs 97.5% promised by compression (drop 36.5 pt > 2 pt budget; 2000 samples on 10 devices)",
    ],
  ])("halts on %s, saying why", (_what, o, reason) => {
    const v = evaluateWave(o, config);
    expect(v.verdict).toBe("halt");
    if (v.verdict === "halt") expect(v.reason).toBe(reason);
  });

  it("gives a fleet without traffic the benefit of the doubt only once baked", () => {
    const quiet = { classes: [{ deviceClass: "rpi4", requests: 3, errors: 0, quantileMs: 9 }] };
    const quietTargets = Array.from({ length: 10 }, (_, i) =>
      target(i, { shadowCompared: 0, shadowAgreed: 0 }),
    );
    expect(
      gate(obs({ ...quiet, targets: quietTargets, bakeElapsedMs: 1000 }), "latency")?.status,
    ).toBe("waiting");
    expect(evaluateWave(obs({ ...quiet, targets: quietTargets }), config).verdict).toBe("advance");
    // Said in words, before and after the bake: no reader takes an unjudged pass for a measurement.
    expect(
      gate(obs({ ...quiet, targets: quietTargets, bakeElapsedMs: 1000 }), "latency"),
    ).toMatchObject({
      detail: "not judged yet: 3 requests (a class needs 50)",
    });
    const after = obs({ ...quiet, targets: quietTargets });
    expect(gate(after, "latency")).toMatchObject({
      status: "pass",
      detail:
        "not judged: 3 requests (a class needs 50) by the end of the bake, passed on bake time",
    });
    expect(gate(after, "errors")?.detail).toMatch(
      /^not judged: 3 requests \(needs \d+\) by the end of the bake, passed on bake time$/,
    );
  });

  it("does not hold a fidelity catalogue to an accuracy it never promised", () => {
    const o = obs({
      metric: "fidelity",
      targets: Array.from({ length: 10 }, (_, i) =>
        target(i, { canary: { samples: 10, correct: 1 } }),
      ),
    });
    expect(gate(o, "canary")?.status).toBe("off");
  });

  it.each([
    ["no canary set", { canarySet: false, targets: [target(0, { canary: undefined })] }, "off"],
    [
      "a device without its result, baking",
      { bakeElapsedMs: 1000, targets: [target(0), target(1, { canary: undefined })] },
      "waiting",
    ],
    [
      "a device without its result, baked",
      { targets: [target(0), target(1, { canary: undefined })] },
      "pass",
    ],
    [
      "no result yet, baking",
      { bakeElapsedMs: 1000, targets: [target(0, { canary: undefined })] },
      "waiting",
    ],
    [
      "no device applied yet, baked",
      { targets: [target(0, { canary: undefined, state: "assigned" })] },
      "waiting",
    ],
    [
      "no result from an applied device, baked",
      { targets: [target(0, { canary: undefined })] },
      "fail",
    ],
  ] as const)("canary gate: %s -> %s", (_what, over, status) => {
    expect(gate(obs(over), "canary")?.status).toBe(status);
  });

  it("halts when no device could check what compression promised", () => {
    const v = evaluateWave(obs({ targets: [target(0, { canary: undefined })] }), config);
    expect(v).toMatchObject({
      verdict: "halt",
      reason: "wave 2 halted: no canary results from 1 applied devices after the bake time",
    });
  });

  it("turns shadow agreement off unless asked", () => {
    const off = gatesSchema.parse({});
    expect(evaluateWave(obs(), off).gates.find((g) => g.gate === "agreement")?.status).toBe("off");
  });
});
