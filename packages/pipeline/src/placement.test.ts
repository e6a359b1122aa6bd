import type { DeviceCapabilities } from "@edgefleet/planner";
import { describe, expect, it } from "vitest";
import {
  type PipelineDevice,
  PlacementInfeasibleError,
  type PlacementOptions,
  placeByMemory,
  placeStages,
  type Segment,
} from "./placement";

const MB = 1e6;
const MiB = 2 ** 20;

function device(
  name: string,
  o: { gflops: number; int8Gops?: number; memoryMiB: number; rttMs?: number; mbps?: number },
): PipelineDevice {
  const caps: DeviceCapabilities = {
    deviceId: name,
    deviceClass: "",
    threads: 1,
    opsPerSecond: { fp32: o.gflops * 1e9, ...(o.int8Gops ? { int8: o.int8Gops * 1e9 } : {}) },
    kernels: { fp32: "native", int8: o.int8Gops ? "native" : "unsupported" },
    memoryBandwidthBytesPerSecond: 1e12,
    runOverheadMs: 0,
    perOpOverheadMs: 0,
    memoryBudgetBytes: o.memoryMiB * MiB,
  };
  return {
    id: name,
    name,
    capabilities: caps,
    link: { rttMs: o.rttMs ?? 1, bytesPerSecond: (o.mbps ?? 1000) * 1e6 },
  };
}

/** n layers of `mb` MB weights and `mflops` MFLOPs, 4 kB activations between them. */
function layers(n: number, mb: number, mflops: number): Segment[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `layer ${i + 1}`,
    flops: mflops * 1e6,
    weightBytes: mb * MB,
    opCount: 3,
    inputBytes: 4096,
    outputBytes: 4096,
  }));
}

const tp: PlacementOptions = { objective: "throughput", precisions: ["fp32"] };
const lat: PlacementOptions = { objective: "latency", precisions: ["fp32"] };
const devices = (p: ReturnType<typeof placeStages>) => p.stages.map((s) => s.deviceName);
const ranges = (p: ReturnType<typeof placeStages>) =>
  p.stages.map((s) => [s.firstSegment, s.lastSegment]);

describe("placeStages", () => {
  it.each([
    {
      name: "throughput, three equal devices: one stage each",
      segs: layers(3, 1, 100),
      devs: [
        device("a", { gflops: 10, memoryMiB: 512 }),
        device("b", { gflops: 10, memoryMiB: 512 }),
        device("c", { gflops: 10, memoryMiB: 512 }),
      ],
      opts: tp,
      devices: ["a", "b", "c"],
      ranges: [
        [0, 0],
        [1, 1],
        [2, 2],
      ],
    },
    {
      name: "latency: one device that holds it all, no hops",
      segs: layers(3, 1, 100),
      devs: [
        device("a", { gflops: 10, memoryMiB: 512 }),
        device("b", { gflops: 10, memoryMiB: 512 }),
      ],
      opts: lat,
      devices: ["a"],
      ranges: [[0, 2]],
    },
    {
      name: "throughput, a fast and a slow device: the fast one takes more layers",
      segs: layers(4, 1, 100),
      devs: [
        device("slow", { gflops: 10, memoryMiB: 512 }),
        device("fast", { gflops: 30, memoryMiB: 512 }),
      ],
      opts: tp,
      devices: ["fast", "slow"],
      ranges: [
        [0, 2],
        [3, 3],
      ],
    },
    {
      name: "memory: 3 x 20 MB layers on 64 MiB devices (28 MiB runtime + 2 weight copies) take a device each",
      segs: layers(3, 20, 1),
      devs: [
        device("a", { gflops: 10, memoryMiB: 80 }),
        device("b", { gflops: 10, memoryMiB: 80 }),
        device("c", { gflops: 100, memoryMiB: 80 }),
      ],
      opts: lat,
      devices: ["c", "a", "b"],
      ranges: [
        [0, 0],
        [1, 1],
        [2, 2],
      ],
    },
    {
      name: "a slow link keeps the work on one device even for throughput",
      segs: layers(2, 1, 10).map((s) => ({ ...s, inputBytes: 1e6, outputBytes: 1e6 })),
      devs: [
        device("a", { gflops: 10, memoryMiB: 512, mbps: 1 }),
        device("b", { gflops: 10, memoryMiB: 512, mbps: 1 }),
      ],
      opts: tp,
      devices: ["a"],
      ranges: [[0, 1]],
    },
  ])("$name", ({ segs, devs, opts, devices: want, ranges: wantRanges }) => {
    const p = placeStages(segs, devs, opts);
    expect(devices(p)).toEqual(want);
    expect(ranges(p)).toEqual(wantRanges);
    expect(p.feasible).toBe(true);
    for (const s of p.stages) {
      expect(s.memoryBytes).toBeLessThanOrEqual(
        devs.find((d) => d.id === s.deviceId)!.capabilities.memoryBudgetBytes,
      );
    }
    expect(p.reasons[0]).toMatch(
      new RegExp(
        `^cost model \\(${opts.objective}\\): ${want.length} stages? on ${want.join(" -> ")}`,
      ),
    );
  });

  it.each([
    {
      name: "int8 where it is much faster (a weak device with dot-product kernels)",
      dev: device("weak", { gflops: 5, int8Gops: 20, memoryMiB: 512 }),
      precision: "int8",
      reason: /^int8: predicted/,
    },
    {
      name: "fp32 where int8 is not faster (no dot product)",
      dev: device("strong", { gflops: 50, int8Gops: 40, memoryMiB: 512 }),
      precision: "fp32",
      reason: /^fp32: int8 is not faster/,
    },
    {
      name: "int8 where only int8 fits the memory",
      dev: device("small", { gflops: 50, int8Gops: 40, memoryMiB: 60 }),
      precision: "int8",
      reason: /^int8: fp32 needs .* > budget/,
    },
  ])("precision: $name", ({ dev, precision, reason }) => {
    const p = placeStages(layers(1, 20, 200), [dev], { objective: "latency" });
    expect(p.stages[0].precision).toBe(precision);
    expect(p.stages[0].precisionReason).toMatch(reason);
    expect(p.reasons[1]).toContain(p.stages[0].precisionReason);
  });

  it("mixes precisions in one pipeline: int8 on the weak device, fp32 on the strong one", () => {
    const p = placeStages(
      layers(2, 20, 400),
      [
        device("strong", { gflops: 50, int8Gops: 40, memoryMiB: 80 }),
        device("weak", { gflops: 5, int8Gops: 40, memoryMiB: 80 }),
      ],
      { objective: "throughput" },
    );
    expect(p.stages.map((s) => [s.deviceName, s.precision])).toEqual([
      ["strong", "fp32"],
      ["weak", "int8"],
    ]);
  });

  it.each([
    ["no devices", layers(2, 1, 1), [], /no devices given/],
    [
      "a model no device set can hold",
      layers(2, 100, 1),
      [device("a", { gflops: 1, memoryMiB: 100 })],
      /no placement fits: the model holds 200.0 MB of fp32 weights \(largest layer 100.0 MB\)/,
    ],
    [
      "a device with no link measurement",
      layers(1, 1, 1),
      [{ ...device("a", { gflops: 1, memoryMiB: 100 }), link: null }],
      /device a has no link measurement/,
    ],
  ])("infeasible: %s -> a clear error", (_name, segs, devs, message) => {
    expect(() => placeStages(segs, devs, tp)).toThrow(PlacementInfeasibleError);
    expect(() => placeStages(segs, devs, tp)).toThrow(message);
  });
});

describe("placeByMemory (exo's default)", () => {
  const devs = [
    device("big-slow", { gflops: 5, memoryMiB: 600 }),
    device("small-fast", { gflops: 50, memoryMiB: 200 }),
    device("mid", { gflops: 20, memoryMiB: 200 }),
  ];

  it("shares the layers by memory budget, largest first, on every device", () => {
    const p = placeByMemory(layers(10, 1, 100), devs, tp);
    expect(devices(p)).toEqual(["big-slow", "small-fast", "mid"]);
    expect(ranges(p)).toEqual([
      [0, 5],
      [6, 7],
      [8, 9],
    ]);
    expect(p.reasons[0]).toMatch(/^memory-proportional: layers shared by memory budget/);
  });

  it("has a slower bottleneck than the cost model when memory and speed disagree", () => {
    const mem = placeByMemory(layers(10, 1, 100), devs, tp);
    const cost = placeStages(layers(10, 1, 100), devs, tp);
    expect(cost.bottleneckMs).toBeLessThan(mem.bottleneckMs / 2);
    expect(cost.throughputPerSecond).toBeGreaterThan(mem.throughputPerSecond * 2);
  });

  it("says when a share does not fit its device", () => {
    const p = placeByMemory(
      layers(4, 30, 1),
      [device("a", { gflops: 1, memoryMiB: 1000 }), device("b", { gflops: 1, memoryMiB: 40 })],
      tp,
    );
    expect(p.feasible).toBe(false);
    expect(p.reasons[0]).toMatch(/a stage does not fit its device/);
  });
});
