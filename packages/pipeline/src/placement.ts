// Where each stage of a split model runs: a pure cost model over the devices' measured compute
// (their profile, through the planner's latency model), memory budget and link to the server,
// and a search over contiguous stage -> device assignments. No IO here.
import {
  type DeviceCapabilities,
  estimateMemory,
  fmtBytes,
  fmtMs,
  type KernelType,
  predictLatency,
} from "@edgefleet/planner";

/** One piece of the model between two candidate cuts (a layer, for an MLP). */
export interface Segment {
  name: string;
  /** fp32 FLOPs per sample. */
  flops: number;
  /** fp32 weight bytes. */
  weightBytes: number;
  opCount: number;
  /** Bytes per sample of the tensor it receives and of the one it hands on. */
  inputBytes: number;
  outputBytes: number;
}

/** Link between the device and the NATS server, measured by the control plane's echo probe. */
export interface LinkFigures {
  rttMs: number;
  bytesPerSecond: number;
}

export interface PipelineDevice {
  id: string;
  name: string;
  capabilities: DeviceCapabilities;
  link: LinkFigures | null;
}

export type Precision = "fp32" | "int8";
export type PipelineObjective = "throughput" | "latency";

export interface PlacementOptions {
  objective: PipelineObjective;
  /** Precisions a stage may use (default fp32 and int8). */
  precisions?: readonly Precision[];
  batch?: number;
  /** int8 is chosen over fp32 when it is this many times faster, or when fp32 does not fit. */
  int8Speedup?: number;
  /** Largest number of devices searched (the fastest are kept); default 6. */
  maxDevices?: number;
}

export interface StageAssignment {
  index: number;
  deviceId: string;
  deviceName: string;
  /** Inclusive segment range. */
  firstSegment: number;
  lastSegment: number;
  precision: Precision;
  computeMs: number;
  /** Receiving its input and sending its output over the device's link. */
  linkMs: number;
  memoryBytes: number;
  weightBytes: number;
  flops: number;
  /** Why this precision, in words. */
  precisionReason: string;
}

export interface Placement {
  strategy: "cost-model" | "memory-proportional";
  objective: PipelineObjective;
  stages: StageAssignment[];
  /** Slowest stage's time (compute + its link): the pipeline's period at full load. */
  bottleneckMs: number;
  /** One request end to end: every stage's compute and every hop. */
  latencyMs: number;
  /** Requests per second at full load: 1000 / bottleneck. */
  throughputPerSecond: number;
  /** false when a stage does not fit its device (memory-proportional can place such stages). */
  feasible: boolean;
  reasons: string[];
}

export class PlacementInfeasibleError extends Error {
  override name = "PlacementInfeasibleError";
  constructor(
    message: string,
    readonly field = "deviceIds",
  ) {
    super(message);
  }
}

interface StageCost {
  precision: Precision;
  computeMs: number;
  linkMs: number;
  /** What the stage adds to the objective (period for throughput, time for latency). */
  score: number;
  latencyMs: number;
  memoryBytes: number;
  weightBytes: number;
  flops: number;
  precisionReason: string;
  fits: boolean;
}

const INT8_WEIGHT_RATIO = 0.25;

/** Cost of running segments [first..last] on one device, at the best precision it allows. */
export function stageCost(
  segments: readonly Segment[],
  first: number,
  last: number,
  device: PipelineDevice,
  options: PlacementOptions,
  forcePrecision?: Precision,
): StageCost {
  const link = device.link;
  if (!link) throw new PlacementInfeasibleError(`device ${device.name} has no link measurement`);
  const batch = options.batch ?? 1;
  let flops = 0;
  let weights = 0;
  let ops = 0;
  let activation = 0;
  for (let i = first; i <= last; i++) {
    const s = segments[i];
    flops += s.flops;
    weights += s.weightBytes;
    ops += s.opCount;
    activation = Math.max(activation, s.inputBytes + s.outputBytes);
  }
  const inBytes = segments[first].inputBytes * batch;
  const outBytes = segments[last].outputBytes * batch;
  const transferMs = ((inBytes + outBytes) / link.bytesPerSecond) * 1000;
  const linkLatencyMs = link.rttMs + transferMs; // half an rtt in, half out
  const caps = device.capabilities;
  const evaluate = (precision: Precision) => {
    const kernel: KernelType = precision;
    const w = precision === "int8" ? weights * INT8_WEIGHT_RATIO : weights;
    const cost = {
      id: "stage",
      accuracy: 1,
      artifactBytes: w,
      flops: { [kernel]: flops },
      opCount: ops,
      activationBytes: activation,
    };
    const supported =
      (caps.kernels[kernel] ?? (kernel === "fp32" ? "native" : "unsupported")) !== "unsupported";
    const computeMs = supported
      ? predictLatency(cost, caps, batch).totalMs
      : Number.POSITIVE_INFINITY;
    const memoryBytes = estimateMemory(cost, batch).totalBytes;
    return {
      precision,
      computeMs,
      memoryBytes,
      weightBytes: w,
      supported,
      fits: memoryBytes <= caps.memoryBudgetBytes,
    };
  };
  const allowed = forcePrecision ? [forcePrecision] : (options.precisions ?? ["fp32", "int8"]);
  const fp32 = allowed.includes("fp32") ? evaluate("fp32") : undefined;
  const int8 = allowed.includes("int8") ? evaluate("int8") : undefined;
  const speedup = options.int8Speedup ?? 1.25;
  let pick = fp32 ?? int8;
  let reason = "fp32 (the only precision allowed)";
  if (fp32 && int8) {
    if (fp32.fits && fp32.supported) {
      if (int8.fits && int8.supported && fp32.computeMs > int8.computeMs * speedup) {
        pick = int8;
        reason = `int8: predicted ${fmtMs(int8.computeMs)} vs fp32 ${fmtMs(fp32.computeMs)}`;
      } else {
        pick = fp32;
        reason =
          int8.supported && int8.computeMs < fp32.computeMs
            ? `fp32: int8 would be only ${(fp32.computeMs / int8.computeMs).toFixed(2)}x faster`
            : `fp32: int8 is not faster here (${fmtMs(int8.computeMs)} vs ${fmtMs(fp32.computeMs)})`;
      }
    } else if (int8.fits && int8.supported) {
      pick = int8;
      reason = `int8: fp32 needs ${fmtBytes(fp32.memoryBytes)} > budget ${fmtBytes(caps.memoryBudgetBytes)}`;
    } else {
      pick = fp32;
      reason = `fp32 (nothing fits: ${fmtBytes(int8.memoryBytes)} even at int8)`;
    }
  } else if (pick) {
    reason = `${pick.precision} (the only precision allowed)`;
  }
  if (!pick) throw new PlacementInfeasibleError("no precision allowed", "precisions");
  const fits = pick.fits && pick.supported;
  const period = pick.computeMs + transferMs;
  return {
    precision: pick.precision,
    computeMs: pick.computeMs,
    linkMs: linkLatencyMs,
    score: options.objective === "throughput" ? period : pick.computeMs + linkLatencyMs,
    latencyMs: pick.computeMs + linkLatencyMs,
    memoryBytes: pick.memoryBytes,
    weightBytes: pick.weightBytes,
    flops,
    precisionReason: reason,
    fits,
  };
}

/** Every ordering of every non-empty subset of `items` with at most `max` elements. */
function orderedSubsets<T>(items: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  const walk = (prefix: T[], rest: T[]) => {
    if (prefix.length) out.push(prefix);
    if (prefix.length === max) return;
    for (const [i, x] of rest.entries()) {
      walk([...prefix, x], [...rest.slice(0, i), ...rest.slice(i + 1)]);
    }
  };
  walk([], [...items]);
  return out;
}

interface Best {
  score: number;
  cuts: number[];
  costs: StageCost[];
}

/** Best partition of the segments over this device order (every device gets a stage). */
function bestPartition(
  segments: readonly Segment[],
  order: readonly PipelineDevice[],
  options: PlacementOptions,
  memo: Map<string, StageCost>,
): Best | undefined {
  const m = segments.length;
  const k = order.length;
  if (k > m) return undefined;
  const combine = (a: number, b: number) =>
    options.objective === "throughput" ? Math.max(a, b) : a + b;
  // f[j][i]: devices 0..j-1 cover segments 0..i-1.
  const f: (Best | undefined)[][] = Array.from({ length: k + 1 }, () =>
    Array(m + 1).fill(undefined),
  );
  f[0][0] = { score: options.objective === "throughput" ? 0 : 0, cuts: [], costs: [] };
  for (let j = 0; j < k; j++) {
    const dev = order[j];
    for (let i = j; i < m; i++) {
      const prev = f[j][i];
      if (!prev) continue;
      const lastEnd = j === k - 1 ? m : m - (k - 1 - j);
      for (let e = i + 1; e <= lastEnd; e++) {
        if (j === k - 1 && e !== m) continue;
        const key = `${dev.id}:${i}:${e - 1}`;
        let c = memo.get(key);
        if (!c) {
          c = stageCost(segments, i, e - 1, dev, options);
          memo.set(key, c);
        }
        if (!c.fits) continue;
        const score = combine(prev.score, c.score);
        const cur = f[j + 1][e];
        if (!cur || score < cur.score) {
          f[j + 1][e] = { score, cuts: [...prev.cuts, e], costs: [...prev.costs, c] };
        }
      }
    }
  }
  return f[k][m];
}

function toPlacement(
  strategy: Placement["strategy"],
  options: PlacementOptions,
  order: readonly PipelineDevice[],
  ends: readonly number[],
  costs: readonly StageCost[],
  segments: readonly Segment[],
): Placement {
  let start = 0;
  const stages = costs.map((c, index) => {
    const dev = order[index];
    const s: StageAssignment = {
      index,
      deviceId: dev.id,
      deviceName: dev.name,
      firstSegment: start,
      lastSegment: ends[index] - 1,
      precision: c.precision,
      computeMs: c.computeMs,
      linkMs: c.linkMs,
      memoryBytes: c.memoryBytes,
      weightBytes: c.weightBytes,
      flops: c.flops,
      precisionReason: c.precisionReason,
    };
    start = ends[index];
    return s;
  });
  const periods = costs.map((c, i) => {
    const s = stages[i];
    const bytes =
      (segments[s.firstSegment].inputBytes + segments[s.lastSegment].outputBytes) *
      (options.batch ?? 1);
    return c.computeMs + (bytes / (order[i].link?.bytesPerSecond ?? 1)) * 1000;
  });
  const bottleneckMs = Math.max(...periods);
  const latencyMs = costs.reduce((t, c) => t + c.latencyMs, 0);
  return {
    strategy,
    objective: options.objective,
    stages,
    bottleneckMs,
    latencyMs,
    throughputPerSecond: 1000 / bottleneckMs,
    feasible: costs.every((c) => c.fits),
    reasons: [],
  };
}

function describeStage(s: StageAssignment, segments: readonly Segment[]): string {
  const range =
    s.firstSegment === s.lastSegment
      ? segments[s.firstSegment].name
      : `${segments[s.firstSegment].name}..${segments[s.lastSegment].name}`;
  return `stage ${s.index + 1} (${range}, ${fmtBytes(s.weightBytes)} ${s.precision}) on ${s.deviceName}: compute ${fmtMs(s.computeMs)}, link ${fmtMs(s.linkMs)}, memory ${fmtBytes(s.memoryBytes)}; ${s.precisionReason}`;
}

/**
 * The contiguous stage -> device assignment minimising the bottleneck stage (throughput) or the
 * sum of stage and hop times (latency). Devices may be left out when they would not help; fewer
 * stages win ties (within 1%), since each hop costs a network transfer.
 */
export function placeStages(
  segments: readonly Segment[],
  devices: readonly PipelineDevice[],
  options: PlacementOptions,
): Placement {
  if (segments.length === 0)
    throw new PlacementInfeasibleError("the model has no segments", "variantId");
  if (devices.length === 0) throw new PlacementInfeasibleError("no devices given");
  for (const d of devices) {
    if (!d.link) throw new PlacementInfeasibleError(`device ${d.name} has no link measurement`);
  }
  const maxDevices = options.maxDevices ?? 6;
  const pool = [...devices]
    .sort(
      (a, b) => (b.capabilities.opsPerSecond.fp32 ?? 0) - (a.capabilities.opsPerSecond.fp32 ?? 0),
    )
    .slice(0, maxDevices);
  const memo = new Map<string, StageCost>();
  let best: { order: PipelineDevice[]; result: Best } | undefined;
  for (const order of orderedSubsets(pool, Math.min(pool.length, segments.length))) {
    const r = bestPartition(segments, order, options, memo);
    if (!r) continue;
    const better =
      !best ||
      r.score < best.result.score * (order.length < best.order.length ? 1.01 : 0.99) ||
      (r.score <= best.result.score * 1.01 && order.length < best.order.length);
    if (better) best = { order, result: r };
  }
  if (!best) {
    const biggest = Math.max(...segments.map((s) => s.weightBytes));
    const budgets = devices.map((d) => d.capabilities.memoryBudgetBytes);
    const total = segments.reduce((t, s) => t + s.weightBytes, 0);
    throw new PlacementInfeasibleError(
      `no placement fits: the model holds ${fmtBytes(total)} of fp32 weights (largest layer ${fmtBytes(biggest)}), the devices' budgets are ${budgets.map(fmtBytes).join(", ")}`,
    );
  }
  const p = toPlacement(
    "cost-model",
    options,
    best.order,
    best.result.cuts,
    best.result.costs,
    segments,
  );
  const goal = options.objective === "throughput" ? "the slowest stage" : "end-to-end latency";
  p.reasons.push(
    `cost model (${options.objective}): ${p.stages.length} stage${p.stages.length > 1 ? "s" : ""} on ${p.stages.map((s) => s.deviceName).join(" -> ")}, minimising ${goal}: bottleneck ${fmtMs(p.bottleneckMs)}, latency ${fmtMs(p.latencyMs)}`,
    ...p.stages.map((s) => describeStage(s, segments)),
  );
  const unused = devices.filter((d) => !best?.order.includes(d));
  if (unused.length) {
    p.reasons.push(
      `left out: ${unused.map((d) => d.name).join(", ")} (a stage there would not lower ${goal})`,
    );
  }
  return p;
}

/**
 * exo's default, for comparison: every device, in order of memory (largest first), takes a share
 * of the layers proportional to its memory budget, in fp32, whatever its speed or link.
 */
export function placeByMemory(
  segments: readonly Segment[],
  devices: readonly PipelineDevice[],
  options: PlacementOptions,
): Placement {
  if (devices.length === 0) throw new PlacementInfeasibleError("no devices given");
  const order = [...devices]
    .sort((a, b) => b.capabilities.memoryBudgetBytes - a.capabilities.memoryBudgetBytes)
    .slice(0, segments.length);
  const totalMem = order.reduce((t, d) => t + d.capabilities.memoryBudgetBytes, 0);
  const totalW = segments.reduce((t, s) => t + s.weightBytes, 0);
  const ends: number[] = [];
  let cum = 0;
  let share = 0;
  let seg = 0;
  order.forEach((d, i) => {
    share += d.capabilities.memoryBudgetBytes / totalMem;
    const left = order.length - 1 - i;
    if (i === order.length - 1) {
      seg = segments.length;
    } else {
      // at least one segment each, and leave one for every device after this one
      do {
        cum += segments[seg].weightBytes;
        seg++;
      } while (
        seg < segments.length - left &&
        (cum + segments[seg].weightBytes / 2) / totalW <= share
      );
    }
    ends.push(seg);
  });
  const costs = order.map((d, i) =>
    stageCost(segments, i === 0 ? 0 : ends[i - 1], ends[i] - 1, d, options, "fp32"),
  );
  const p = toPlacement("memory-proportional", options, order, ends, costs, segments);
  p.reasons.push(
    `memory-proportional: layers shared by memory budget over ${p.stages.map((s) => s.deviceName).join(" -> ")}: bottleneck ${fmtMs(p.bottleneckMs)}, latency ${fmtMs(p.latencyMs)}${p.feasible ? "" : " (a stage does not fit its device)"}`,
    ...p.stages.map((s) => describeStage(s, segments)),
  );
  return p;
}
