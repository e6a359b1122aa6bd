import { describe, expect, it } from "vitest";
import { InvalidSimulationModelError, SimulationModel } from "./model";
import { Random } from "./random";

describe("SimulationModel", () => {
  it("takes class factors from the device classes unless told otherwise", () => {
    const m = new SimulationModel({ classes: { "x86-gateway": { latencyFactor: 3 } } });
    expect(m.latencyFactor("rpi4", "fp32")).toBe(12);
    expect(m.latencyFactor("rpi4", "int8")).toBe(48);
    expect(m.latencyFactor("mcu-gateway", "int4")).toBeNull();
    expect(m.latencyFactor("x86-gateway", "int8")).toBe(3);
    const perKernel = new SimulationModel({ classes: { rpi4: { latencyFactor: { int8: 10 } } } });
    expect(perKernel.latencyFactor("rpi4", "int8")).toBe(10);
    expect(perKernel.latencyFactor("rpi4", "fp32")).toBe(12);
  });

  it("matches variants by the first pattern, the user's before the defaults", () => {
    const m = new SimulationModel({
      variants: [{ match: "int8-static", baseLatencyMs: 2, canaryAccuracy: 0.5, agreement: 0.6 }],
    });
    expect(m.variant("int8-static").baseLatencyMs).toBe(2);
    expect(m.variant("INT8-dynamic").baseLatencyMs).toBe(0.12);
    expect(m.variant("prune-global-90-cluster5").match).toBe("*prune*");
    expect(m.variant("anything").match).toBe("*");
  });

  it("multiplies base latency, class factor and load", () => {
    const m = new SimulationModel({
      variants: [{ match: "a", baseLatencyMs: 2, canaryAccuracy: 1, agreement: 1 }],
    });
    expect(m.medianLatencyMs("rpi4", "a", "fp32", 1)).toBe(24);
    expect(m.medianLatencyMs("rpi4", "a", "fp32", 3)).toBe(72);
  });

  it.each([
    [{ classes: { rpi5: {} } }, "classes.rpi5: unknown class"],
    [{ latencySpread: -1 }, "latencySpread"],
    [{ surprise: 1 }, "(root)"],
    [
      { variants: [{ match: "x", baseLatencyMs: 0, canaryAccuracy: 1, agreement: 1 }] },
      "baseLatencyMs",
    ],
  ])("refuses %j", (config, message) => {
    expect(() => new SimulationModel(config as never)).toThrow(InvalidSimulationModelError);
    expect(() => new SimulationModel(config as never)).toThrow(message);
  });
});

describe("Random", () => {
  it("is reproducible from its seed", () => {
    const a = new Random(42);
    const b = new Random(42);
    expect([a.next(), a.next(), a.normal()]).toEqual([b.next(), b.next(), b.normal()]);
  });

  it("draws Poisson counts, binomials and log-normals with the right centre", () => {
    const r = new Random(7);
    const n = 20_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += r.poisson(4);
    expect(sum / n).toBeCloseTo(4, 1);
    expect(r.binomial(10_000, 0.9) / 10_000).toBeCloseTo(0.9, 1);
    const draws = Array.from({ length: n }, () => r.logNormal(0.3)).sort((x, y) => x - y);
    expect(draws[n / 2]).toBeCloseTo(1, 1);
    expect(r.poisson(0)).toBe(0);
    expect(r.poisson(100)).toBeGreaterThan(50);
  });
});
