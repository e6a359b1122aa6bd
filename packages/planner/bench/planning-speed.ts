/**
 * Planning speed: 100,000 devices x 30 variants, one core, with field corrections and reasons.
 * Run: npx tsx packages/planner/bench/planning-speed.ts [devices] [variants]
 */
import {
  correctionKey,
  type DeviceCapabilities,
  fitCorrection,
  type LatencyObservation,
  Planner,
  predictLatency,
  type VariantCost,
} from "../src/index";

const devicesN = Number(process.argv[2] ?? 100_000);
const variantsN = Number(process.argv[3] ?? 30);

// Deterministic so two runs plan the same fleet.
let seed = 42;
const rand = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};

function catalogue(n: number): VariantCost[] {
  const kernels = ["fp32", "fp16", "int8", "int4"] as const;
  return Array.from({ length: n }, (_, i) => {
    const k = kernels[i % 4];
    const width = 1 - Math.floor(i / 4) * 0.1; // pruned / distilled students get narrower
    const flops = 11.6e6 * Math.max(0.05, width);
    const bytesPerParam = { fp32: 4, fp16: 2, int8: 1, int4: 0.56 }[k];
    return {
      id: `v${i}-${k}-w${width.toFixed(1)}`,
      accuracy: 0.982 - (1 - width) * 0.05 - (k === "int4" ? 0.006 : k === "int8" ? 0.001 : 0),
      artifactBytes: (flops / 2) * bytesPerParam,
      runtimeWeightBytes: k === "fp16" ? (flops / 2) * 4 : undefined,
      flops: { [k === "fp16" ? "fp32" : k]: flops },
      opCount: 6 + (k === "int8" ? 4 : 0),
      activationBytes: 16e3,
    };
  });
}

const CLASSES: Omit<DeviceCapabilities, "deviceId">[] = [
  {
    deviceClass: "x86-gateway",
    threads: 4,
    opsPerSecond: { fp32: 25e9, int8: 40e9, int4: 20e9 },
    kernels: { fp32: "native", int8: "native", int4: "native", fp16: "unsupported" },
    memoryBandwidthBytesPerSecond: 10e9,
    cacheBytes: 4e6,
    cacheBandwidthBytesPerSecond: 40e9,
    runOverheadMs: 0.03,
    perOpOverheadMs: 0.002,
    memoryBudgetBytes: 2e9,
  },
  {
    deviceClass: "rpi4",
    threads: 4,
    opsPerSecond: { fp32: 8e9, int8: 6e9, int4: 5e9 },
    kernels: { fp32: "native", int8: "slow", int4: "native", fp16: "unsupported" },
    memoryBandwidthBytesPerSecond: 4e9,
    cacheBytes: 1e6,
    runOverheadMs: 0.08,
    perOpOverheadMs: 0.01,
    memoryBudgetBytes: 1e9,
  },
  {
    deviceClass: "jetson-nano",
    threads: 4,
    opsPerSecond: { fp32: 10e9, int8: 7e9, int4: 6e9 },
    kernels: { fp32: "native", int8: "slow", int4: "native", fp16: "unsupported" },
    memoryBandwidthBytesPerSecond: 6e9,
    cacheBytes: 2e6,
    runOverheadMs: 0.06,
    perOpOverheadMs: 0.008,
    memoryBudgetBytes: 1.5e9,
  },
  {
    deviceClass: "mcu-gateway",
    threads: 1,
    opsPerSecond: { fp32: 0.6e9, int8: 0.5e9 },
    kernels: { fp32: "native", int8: "native", int4: "unsupported", fp16: "unsupported" },
    memoryBandwidthBytesPerSecond: 0.7e9,
    runOverheadMs: 0.5,
    perOpOverheadMs: 0.05,
    memoryBudgetBytes: 48e6,
  },
];

function fleet(n: number): DeviceCapabilities[] {
  return Array.from({ length: n }, (_, i) => {
    const c = CLASSES[i % CLASSES.length];
    const jitter = 0.7 + rand() * 0.6; // devices of a class differ by +-30%
    const ops = Object.fromEntries(Object.entries(c.opsPerSecond).map(([k, v]) => [k, v * jitter]));
    return {
      ...c,
      deviceId: `dev-${i}`,
      opsPerSecond: ops,
      memoryBudgetBytes: c.memoryBudgetBytes * (0.5 + rand()),
    };
  });
}

const variants = catalogue(variantsN);
const devices = fleet(devicesN);

// Field measurements from 2% of the fleet, so corrections take the device and class paths.
const observations: LatencyObservation[] = [];
for (const d of devices.slice(0, Math.ceil(devicesN / 50))) {
  for (const v of variants.slice(0, 6)) {
    const b = predictLatency(v, d, 1);
    observations.push({
      deviceId: d.deviceId,
      deviceClass: d.deviceClass,
      variantId: v.id,
      key: correctionKey(b),
      batch: 1,
      predictedMs: b.totalMs,
      measuredMs: b.totalMs * (0.8 + rand() * 0.8),
    });
  }
}
const correction = fitCorrection(observations);
const policy = { latencySloMs: 2, batch: 1, accuracyFloor: 0.9 };

// Warm the JIT on a slice, then time the whole fleet.
new Planner(variants, { correction }).planFleet(devices.slice(0, 2000), policy);
// Wall time and this process's CPU time: the machine is shared, and CPU time is what one core
// spends regardless of what else runs.
const times: number[] = [];
const cpu: number[] = [];
let decisions = new Planner(variants, { correction }).planFleet([], policy);
for (let rep = 0; rep < 5; rep++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const planner = new Planner(variants, { correction });
  decisions = planner.planFleet(devices, policy);
  const c = process.cpuUsage(c0);
  times.push(performance.now() - t0);
  cpu.push((c.user + c.system) / 1000);
}
times.sort((a, b) => a - b);
cpu.sort((a, b) => a - b);
const r0 = process.cpuUsage();
let rendered = 0;
for (const d of decisions) rendered += d.reasons.length;
const renderCpu = process.cpuUsage(r0);
const chosen = new Map<string, number>();
for (const d of decisions)
  chosen.set(d.variantId ?? "(none)", (chosen.get(d.variantId ?? "(none)") ?? 0) + 1);
console.log(
  `devices ${devicesN} x variants ${variantsN}, ${observations.length} field observations in the correction`,
);
console.log(
  `plan wall time: best ${times[0].toFixed(0)} ms, median ${times[2].toFixed(0)} ms of 5 runs (node ${process.version})`,
);
console.log(
  `plan CPU time: best ${cpu[0].toFixed(0)} ms, median ${cpu[2].toFixed(0)} ms (single-threaded JS)`,
);
console.log(
  `throughput: ${((devicesN * variantsN) / (cpu[2] / 1000) / 1e6).toFixed(1)} M device-variant evaluations per CPU-second`,
);
console.log(
  `rendering every decision's sentences afterwards: ${((renderCpu.user + renderCpu.system) / 1000).toFixed(0)} ms CPU, ${rendered} sentences`,
);
console.log(
  "choices:",
  [...chosen.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, v]) => `${k}=${v}`)
    .join(" "),
);
console.log("example:", JSON.stringify(decisions[1].reasons));
console.log("example:", JSON.stringify(decisions[3].reasons));
