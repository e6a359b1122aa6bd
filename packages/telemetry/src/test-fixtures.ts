import type { Telemetry } from "@edgefleet/protocol";
import { LatencySketch } from "./sketch";
import { TelemetryWindow } from "./window";

export const VARIANT_A = "00000000-0000-4000-8000-00000000000a";
export const VARIANT_B = "00000000-0000-4000-8000-00000000000b";
/** 2026-01-01T12:00:00Z: minute boundaries are easy to read around it. */
export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** Deterministic, so a failing property test fails the same way again. */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Log-normal around `medianMs`: latencies have a long right tail. */
export function lognormal(random: () => number, medianMs: number, sigma: number): number {
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return medianMs * Math.exp(sigma * z);
}

export function sketchOf(values: readonly number[]): LatencySketch {
  const s = new LatencySketch();
  for (const v of values) s.record(v);
  return s;
}

/** The value at rank q * (n - 1), the rank DDSketch answers for. */
export function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

/** A valid message: 5 s from T0, 3 answered requests of 10, 20 and 30 ms. */
export function telemetry(over: Partial<Telemetry> = {}): Telemetry {
  return {
    version: 1,
    epoch: 1,
    seq: 0,
    windowStart: T0,
    windowEnd: T0 + 5000,
    variantId: VARIANT_A,
    generation: 1,
    shadow: null,
    requests: 3,
    errors: 0,
    rejected: 0,
    latency: sketchOf([10, 20, 30]).toSummary(),
    runBatch1: sketchOf([2, 3]).toSummary(),
    runs: 2,
    samples: 2,
    queueDepth: 0,
    queueDepthMax: 1,
    cpuPercent: 12.5,
    rssBytes: 60e6,
    simulated: false,
    deviceClass: "rpi4",
    droppedBefore: 0,
    ...over,
  };
}

/**
 * A fleet's telemetry as the stream delivers it (benchmarks): `windows` five-second windows of
 * each of `devices` devices, interleaved by time (one window of every device, then the next),
 * each window 50-500 answered requests around the device's own median, 1 % errors, runs of one
 * and two samples. Device ids are `00000000-0000-4000-8000-<12 digits>` unless given.
 */
export function syntheticTelemetry(opts: {
  devices: number;
  windows: number;
  seed?: number;
  deviceIds?: readonly string[];
}): { deviceId: string; message: Telemetry; wire: string }[] {
  const random = rng(opts.seed ?? 1);
  const devices = Array.from({ length: opts.devices }, (_, d) => ({
    id: opts.deviceIds?.[d] ?? `00000000-0000-4000-8000-${String(d).padStart(12, "0")}`,
    window: new TelemetryWindow(T0 + d * 5),
    medianMs: 2 + random() * 30,
    variantId: d % 3 === 0 ? VARIANT_B : VARIANT_A,
  }));
  const out: { deviceId: string; message: Telemetry; wire: string }[] = [];
  for (let seq = 0; seq < opts.windows; seq++) {
    for (const [d, dev] of devices.entries()) {
      const n = 50 + Math.floor(random() * 451);
      for (let i = 0; i < n; i++) {
        const ms = lognormal(random, dev.medianMs, 0.5);
        dev.window.onRequest(ms, random() < 0.01 ? "error" : "ok");
        if (i % 3 === 0) dev.window.onRun(1, ms * 0.4);
        else if (i % 3 === 1) dev.window.onRun(2, ms * 0.6);
        dev.window.onQueueDepth(Math.floor(random() * 8));
      }
      const message = dev.window.snapshot({
        ...{ epoch: 1, seq, windowEnd: T0 + d * 5 + (seq + 1) * 5000, variantId: dev.variantId },
        ...{ generation: 3, queueDepth: 1, cpuPercent: 30 + random() * 60, rssBytes: 70e6 },
        ...{ simulated: true, deviceClass: "rpi4", droppedBefore: 0 },
      });
      out.push({ deviceId: dev.id, message, wire: JSON.stringify(message) });
    }
  }
  return out;
}
