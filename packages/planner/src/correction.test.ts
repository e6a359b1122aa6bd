import { describe, expect, it } from "vitest";
import {
  correctionFor,
  correctionKey,
  fitCorrection,
  type LatencyObservation,
  median,
} from "./correction";
import { predictLatency } from "./latency-model";
import { predictCorrectedMs } from "./select";
import { CATALOGUE, RPI4 } from "./test-fixtures";
import type { DeviceCapabilities } from "./types";

// The "field": int8 runs 2x slower than the profile says, int4 1.5x, fp32 as profiled; each
// device also has its own speed, and every measurement some noise.
const KERNEL_TRUTH: Record<string, number> = { fp32: 1, int8: 2, int4: 1.5, fp16: 1 };
const rpi = (id: string): DeviceCapabilities => ({ ...RPI4, deviceId: id });
const DEVICE_TRUTH: Record<string, number> = { a: 1.1, b: 0.9, c: 1.0, d: 1.2, e: 1.0 };

function observe(
  device: DeviceCapabilities,
  variantIds: string[],
  seed: number,
): LatencyObservation[] {
  const out: LatencyObservation[] = [];
  for (const batch of [1, 32]) {
    for (const v of CATALOGUE.filter((x) => variantIds.includes(x.id))) {
      const b = predictLatency(v, device, batch);
      const noise = 1 + 0.05 * Math.sin(seed++ * 12.9898);
      out.push({
        deviceId: device.deviceId,
        deviceClass: device.deviceClass,
        variantId: v.id,
        key: correctionKey(b),
        batch,
        predictedMs: b.totalMs,
        measuredMs:
          b.totalMs * KERNEL_TRUTH[b.dominantKernel] * DEVICE_TRUTH[device.deviceId] * noise,
      });
    }
  }
  return out;
}

const ape = (o: LatencyObservation, predicted: number) =>
  Math.abs(predicted - o.measuredMs) / o.measuredMs;

describe("field correction", () => {
  const all = CATALOGUE.map((v) => v.id);
  const train = [
    ...observe(rpi("a"), all, 1),
    ...observe(rpi("b"), all, 100),
    ...observe(rpi("c"), all, 200),
  ];
  const model = fitCorrection(train);

  it.each([
    // A device the fleet has never measured borrows its class's correction.
    {
      case: "unseen device of the class",
      test: () => observe(rpi("e"), ["fp32", "int8-static", "int8-dynamic", "int4-b32"], 300),
      source: "class",
    },
    // A device with measurements of some variants, scored on the others.
    {
      case: "measured device, held-out variants",
      test: () => observe(rpi("d"), ["int8-dynamic", "int4-b32", "pruned-50"], 400),
      train: () => observe(rpi("d"), ["fp32", "int8-static", "student-256"], 500),
      source: "device",
    },
  ])("improves held-out predictions: $case", ({ test, train: extra, source }) => {
    const m = extra ? fitCorrection([...train, ...extra()]) : model;
    const held = test();
    const before = median(held.map((o) => ape(o, o.predictedMs)));
    const after = median(
      held.map((o) => {
        const d = rpi(o.deviceId);
        const variant = CATALOGUE.find((v) => v.id === o.variantId)!;
        return ape(o, predictCorrectedMs(variant, d, o.batch, m));
      }),
    );
    expect(before).toBeGreaterThan(0.15);
    expect(after).toBeLessThan(before / 2);
    expect(after).toBeLessThan(0.1);
    expect(correctionFor(m, rpi(held[0].deviceId), held[0].key).source).toBe(source);
  });

  it("learns the per-kernel factor", () => {
    const int8 = correctionFor(model, rpi("e"), "int8/compute").factor;
    const fp32 = correctionFor(model, rpi("e"), "fp32/memory").factor;
    expect(int8 / fp32).toBeGreaterThan(1.7);
    expect(int8 / fp32).toBeLessThan(2.3);
  });

  it.each([
    { n: 1, lo: 1.05, hi: 2.2 },
    { n: 30, lo: 2.4, hi: 2.72 },
  ])("shrinks $n observation(s) of e x toward no correction", ({ n, lo, hi }) => {
    const obs: LatencyObservation[] = Array.from({ length: n }, () => ({
      deviceId: "x",
      deviceClass: "",
      variantId: "v",
      key: "fp32/compute",
      batch: 1,
      predictedMs: 1,
      measuredMs: Math.E,
    }));
    const f = correctionFor(fitCorrection(obs), { deviceId: "x", deviceClass: "" }, "fp32/compute");
    expect(f.factor).toBeGreaterThan(lo);
    expect(f.factor).toBeLessThan(hi);
  });

  it("ignores a lone outlier", () => {
    const obs = observe(rpi("a"), ["fp32"], 1).concat(observe(rpi("a"), ["fp32"], 7));
    obs.push({ ...obs[0], measuredMs: obs[0].predictedMs * 50 });
    const f = correctionFor(fitCorrection(obs), rpi("a"), obs[0].key).factor;
    expect(f).toBeLessThan(1.3);
  });

  it("without a model or data, changes nothing", () => {
    expect(correctionFor(undefined, rpi("a"), "fp32/compute")).toEqual({
      factor: 1,
      n: 0,
      source: "none",
    });
    expect(correctionFor(fitCorrection([]), rpi("a"), "fp32/compute").factor).toBe(1);
  });
});
