import { describe, expect, it } from "vitest";
import type { BenchResult } from "./microbench";
import {
  classifyKernels,
  deriveSimulatedProfile,
  figuresFromBenchmarks,
  measureProfile,
  profileStaleness,
} from "./profile";

const r = (
  name: string,
  kernel: BenchResult["kernel"],
  op: string,
  best: number,
  ok = true,
): BenchResult => ({
  name,
  kernel,
  op,
  unit: "OP/s",
  best,
  median: best / 2,
  iterations: ok ? 10 : 0,
  ok,
  error: ok ? undefined : "Could not find an implementation",
});

describe("kernel classification", () => {
  it.each([
    {
      case: "VNNI host",
      results: [
        r("a", "fp32", "MatMul", 100e9),
        r("b", "int8", "MatMulInteger", 300e9),
        r("c", "int8", "QLinearMatMul", 500e9),
        r("d", "int4", "MatMulNBits", 150e9),
        r("e", "fp16", "MatMul(fp16)", 0, false),
      ],
      want: { fp32: "native", int8: "native", int4: "native", fp16: "unsupported" },
      int8: 500e9,
    },
    {
      case: "no dot product: int8 below fp32",
      results: [
        r("a", "fp32", "MatMul", 20e9),
        r("b", "int8", "MatMulInteger", 12e9),
        r("d", "int4", "MatMulNBits", 0, false),
      ],
      want: { fp32: "native", int8: "slow", int4: "unsupported", fp16: "unsupported" },
      int8: 12e9,
    },
    {
      case: "within noise of fp32 is native",
      results: [
        r("a", "fp32", "MatMul", 100e9),
        r("b", "int8", "MatMulInteger", 95e9),
        r("c", "fp16", "MatMul(fp16)", 85e9),
      ],
      want: { fp32: "native", int8: "native", int4: "unsupported", fp16: "slow" },
      int8: 95e9,
    },
  ])("$case", ({ results, want, int8 }) => {
    const k = classifyKernels(results);
    expect(Object.fromEntries(Object.entries(k).map(([n, f]) => [n, f.status]))).toEqual(want);
    expect(k.int8.opsPerSecond.best).toBe(int8);
    if (want.fp16 === "unsupported" && results.some((x) => x.kernel === "fp16")) {
      expect(k.fp16.detail).toMatch(/MatMul\(fp16\): Could not find/);
    }
  });

  it("derives per-op overhead from the two op chains", () => {
    const t = (name: string, ms: number): BenchResult => ({
      name,
      op: name,
      unit: "ms",
      best: ms,
      median: ms * 2,
      iterations: 5,
      ok: true,
    });
    const f = figuresFromBenchmarks(
      [t("run-overhead", 0.01), t("op-chain-64", 0.073)],
      { best: 1, median: 2 },
      1e9,
      1e6,
    );
    expect(f.runOverheadMs).toEqual({ best: 0.01, median: 0.02 });
    expect(f.perOpOverheadMs.best).toBeCloseTo(0.001, 9);
    expect(f.perOpOverheadMs.median).toBeCloseTo(0.002, 9);
    expect(f.kernels.fp32.status).toBe("unsupported");
  });
});

describe("measured profile (real ONNX Runtime)", () => {
  it("measures this machine and derives a simulated class from it", async () => {
    const p = await measureProfile({
      threads: 1,
      microbench: {
        gemmSize: 128,
        dramBytes: 8 * 2 ** 20,
        cacheTestBytes: 2 ** 18,
        rounds: 3,
        runsPerRound: 2,
      },
    });
    expect(p.simulated).toBe(false);
    expect(p.figures).toEqual(p.measured);
    expect(p.figures.kernels.fp32.status).toBe("native");
    expect(p.figures.kernels.fp32.opsPerSecond.best).toBeGreaterThan(1e8);
    expect(p.figures.kernels.int8.status).not.toBe("unsupported");
    expect(p.figures.memoryBandwidthBytesPerSecond.best).toBeGreaterThan(1e8);
    expect(p.figures.runOverheadMs.median).toBeGreaterThan(0);
    expect(p.figures.modelLoadMs.best).toBeGreaterThan(0);
    expect(p.benchmarks.filter((b) => b.ok).length).toBeGreaterThanOrEqual(7);

    const sim = deriveSimulatedProfile(p, "mcu-gateway");
    expect(sim).toMatchObject({ simulated: true, deviceClass: "mcu-gateway" });
    expect(sim.facts.simulated).toBe(true);
    expect(sim.measured).toEqual(p.measured);
    expect(sim.figures.kernels.int4.status).toBe("unsupported");
    expect(sim.figures.kernels.fp32.opsPerSecond.best).toBeCloseTo(
      p.measured.kernels.fp32.opsPerSecond.best / 150,
      -3,
    );
  }, 30_000);
});

describe("when to re-profile", () => {
  const stored = {
    agentVersion: "1.2.0",
    threads: 2,
    deviceClass: "",
    measuredAt: "2026-11-28T00:00:00Z",
  };
  const now = Date.parse("2026-11-28T12:00:00Z");
  it.each([
    {
      case: "nothing stored",
      stored: undefined,
      current: { agentVersion: "1.2.0", threads: 2, now },
      want: "missing",
    },
    {
      case: "same agent",
      stored,
      current: { agentVersion: "1.2.0", threads: 2, now },
      want: undefined,
    },
    {
      case: "new agent version",
      stored,
      current: { agentVersion: "1.3.0", threads: 2, now },
      want: "agent-version",
    },
    {
      case: "thread count changed",
      stored,
      current: { agentVersion: "1.2.0", threads: 4, now },
      want: "threads",
    },
    {
      case: "now simulating a class",
      stored,
      current: { agentVersion: "1.2.0", threads: 2, simulatedClass: "rpi4", now },
      want: "simulated-class",
    },
    {
      case: "older than a max age",
      stored,
      current: { agentVersion: "1.2.0", threads: 2, now },
      maxAge: 3_600_000,
      want: "age",
    },
  ])("$case", ({ stored, current, maxAge, want }) => {
    expect(profileStaleness(stored, current, maxAge)).toBe(want);
  });
});
