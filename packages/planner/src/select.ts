import { type CorrectionModel, correctionFor, correctionKey } from "./correction";
import { describeChoice, describeRejection } from "./format";
import {
  BOUNDS,
  type CompiledDevice,
  type CompiledVariant,
  compileDevice,
  compileDeviceInto,
  compileVariant,
  predictCompiledMs,
  predictLatency,
} from "./latency-model";
import { compiledMemoryBytes, DEFAULT_MEMORY_MODEL, type MemoryModelOptions } from "./memory-model";
import {
  type CandidateEvaluation,
  DEFAULT_ACCURACY_TIE,
  type DeviceCapabilities,
  KERNEL_TYPES,
  type Objective,
  type PlanDecision,
  type PlanPolicy,
  type VariantCost,
  type Violation,
} from "./types";

export interface PlannerOptions {
  memory?: MemoryModelOptions;
  /** Field-measurement correction; without it predictions come from the profile alone. */
  correction?: CorrectionModel;
  /** At most this many preferred-but-excluded variants are explained per decision. Default 8. */
  maxRejections?: number;
}

const KERNELS = 1;
const MEMORY = 2;
const ACCURACY = 4;
const LATENCY = 8;

/**
 * Plans many devices against one catalogue: variants are compiled once, and per device the work
 * is a few multiply-adds per variant in reused typed arrays. A decision keeps the numbers of its
 * choice and of the variants the objective preferred; its evaluations and sentences are built
 * when first read (or serialised), so planning 100k devices does not write 700k sentences nobody
 * reads.
 */
export class Planner {
  private readonly variants: CompiledVariant[];
  private readonly memory: MemoryModelOptions;
  private readonly correction?: CorrectionModel;
  private readonly maxRejections: number;
  private readonly classFactors = new Map<string, Float64Array>();
  private readonly predicted: Float64Array;
  private readonly memBytes: Float64Array;
  private readonly failed: Uint8Array;
  private readonly top: Int32Array;
  private readonly device = compileDevice({
    deviceId: "",
    deviceClass: "",
    threads: 1,
    opsPerSecond: {},
    kernels: {},
    memoryBandwidthBytesPerSecond: 1,
    runOverheadMs: 0,
    perOpOverheadMs: 0,
    memoryBudgetBytes: 0,
  }) as Parameters<typeof compileDeviceInto>[1];

  constructor(variants: readonly VariantCost[], options: PlannerOptions = {}) {
    this.variants = variants.map(compileVariant);
    this.memory = options.memory ?? DEFAULT_MEMORY_MODEL;
    this.correction = options.correction;
    this.maxRejections = options.maxRejections ?? 8;
    this.predicted = new Float64Array(variants.length);
    this.memBytes = new Float64Array(variants.length);
    this.failed = new Uint8Array(variants.length);
    this.top = new Int32Array(Math.max(1, this.maxRejections));
  }

  plan(device: DeviceCapabilities, policy: PlanPolicy): PlanDecision {
    const d = compileDeviceInto(device, this.device);
    const batch = policy.batch ?? 1;
    const floor = policy.accuracyFloor ?? 0;
    const budget = device.memoryBudgetBytes;
    const factors = this.factorsFor(device);
    const n = this.variants.length;
    for (let i = 0; i < n; i++) {
      const v = this.variants[i];
      const ms = predictCompiledMs(v, d, batch, factors);
      const mem = compiledMemoryBytes(v, batch, this.memory);
      this.predicted[i] = ms;
      this.memBytes[i] = mem;
      this.failed[i] = failures(v, d, ms, mem, budget, floor, policy.latencySloMs);
    }
    const objective = policy.objective ?? "max-accuracy";
    const tie = policy.accuracyTie ?? DEFAULT_ACCURACY_TIE;
    const chosen = this.choose(objective, tie);
    const { shown, total } = this.preferredOver(chosen, objective, tie);
    const lead = chosen >= 0 ? chosen : this.nearest(policy, budget);
    // Only indices are kept: the numbers are recomputed when the decision is first read, which
    // keeps a 100k-device plan to one small object per device.
    const picks: number[] = [lead];
    for (let k = 0; k < shown; k++) picks.push(this.top[k]);
    return new Decision(
      { variants: this.variants, memory: this.memory },
      device,
      policy,
      factors,
      chosen >= 0,
      picks,
      total - shown,
    );
  }

  planFleet(devices: readonly DeviceCapabilities[], policy: PlanPolicy): PlanDecision[] {
    const out = new Array<PlanDecision>(devices.length);
    for (let i = 0; i < devices.length; i++) out[i] = this.plan(devices[i], policy);
    return out;
  }

  private choose(objective: Objective, tie: number): number {
    let best = -1;
    for (let i = 0; i < this.variants.length; i++) {
      if (this.failed[i] !== 0) continue;
      if (best < 0 || this.prefers(objective, tie, i, best)) best = i;
    }
    return best;
  }

  /**
   * Failing variants the objective ranks above the choice (all of them when nothing was
   * chosen): the best `maxRejections` go into `top` in order by insertion, the rest are counted.
   */
  private preferredOver(chosen: number, objective: Objective, tie: number) {
    const k = this.maxRejections;
    let shown = 0;
    let total = 0;
    for (let i = 0; i < this.variants.length; i++) {
      if (this.failed[i] === 0) continue;
      if (chosen >= 0 && !this.prefers(objective, tie, i, chosen)) continue;
      total++;
      if (k === 0) continue;
      let pos = Math.min(shown, k);
      while (pos > 0 && this.prefers(objective, tie, i, this.top[pos - 1])) pos--;
      if (pos >= k) continue;
      for (let j = Math.min(shown, k - 1); j > pos; j--) this.top[j] = this.top[j - 1];
      this.top[pos] = i;
      if (shown < k) shown++;
    }
    return { shown, total };
  }

  private prefers(objective: Objective, tie: number, a: number, b: number): boolean {
    const va = this.variants[a];
    const vb = this.variants[b];
    return prefers(
      objective,
      tie,
      va.accuracy,
      this.predicted[a],
      va.artifactBytes,
      vb.accuracy,
      this.predicted[b],
      vb.artifactBytes,
    );
  }

  /**
   * The variant that misses the policy by the least: violations are scored by how far over the
   * limit they are in log terms, so "10% too slow" is nearer than "twice the memory", and a kernel
   * the device cannot run counts as far.
   */
  private nearest(policy: PlanPolicy, budget: number): number {
    let best = -1;
    let bestScore = Number.POSITIVE_INFINITY;
    const floor = policy.accuracyFloor ?? 0;
    for (let i = 0; i < this.variants.length; i++) {
      const f = this.failed[i];
      let s = 0;
      if (f & KERNELS) s += 100;
      if (f & MEMORY) s += Math.log(this.memBytes[i] / budget);
      if (f & LATENCY) s += Math.log(this.predicted[i] / policy.latencySloMs);
      if (f & ACCURACY) s += 10 * (floor - this.variants[i].accuracy);
      if (s < bestScore) {
        bestScore = s;
        best = i;
      }
    }
    return best;
  }

  /**
   * Correction factors per (kernel, bound) for this device. Devices without measurements of
   * their own share their class's factors, so a 100k-device fleet does not walk the hierarchy
   * 100k times.
   */
  private factorsFor(device: DeviceCapabilities): Float64Array | undefined {
    const model = this.correction;
    if (!model) return undefined;
    const own = model.devices[device.deviceId] !== undefined;
    const cacheKey = own ? undefined : device.deviceClass;
    if (cacheKey !== undefined) {
      const hit = this.classFactors.get(cacheKey);
      if (hit) return hit;
    }
    const out = new Float64Array(KERNEL_TYPES.length * BOUNDS.length);
    KERNEL_TYPES.forEach((k, ki) => {
      BOUNDS.forEach((b, bi) => {
        out[ki * BOUNDS.length + bi] = correctionFor(model, device, `${k}/${b}`).factor;
      });
    });
    if (cacheKey !== undefined) this.classFactors.set(cacheKey, out);
    return out;
  }
}

function failures(
  v: CompiledVariant,
  d: CompiledDevice,
  ms: number,
  mem: number,
  budget: number,
  floor: number,
  sloMs: number,
): number {
  let f = 0;
  if (v.kernelMask & d.unsupportedMask) f |= KERNELS;
  if (mem > budget) f |= MEMORY;
  if (v.accuracy < floor) f |= ACCURACY;
  if (ms > sloMs) f |= LATENCY;
  return f;
}

interface Catalogue {
  variants: readonly CompiledVariant[];
  memory: MemoryModelOptions;
}

/**
 * A plan decision whose evaluations and sentences are rendered on first read (or by JSON
 * serialisation) from the device and policy objects it was planned with: callers must not mutate
 * those before the decision has been read or stored.
 */
class Decision implements PlanDecision {
  readonly deviceId: string;
  readonly variantId: string | null;
  private cache?: {
    chosen: CandidateEvaluation | null;
    nearest: CandidateEvaluation | null;
    rejected: CandidateEvaluation[];
    reasons: string[];
  };

  constructor(
    private readonly catalogue: Catalogue,
    private readonly device: DeviceCapabilities,
    private readonly policy: PlanPolicy,
    private readonly factors: Float64Array | undefined,
    private readonly found: boolean,
    /** The choice (or nearest miss, or -1), then the preferred variants shown. */
    private readonly picks: number[],
    private readonly unshown: number,
  ) {
    this.deviceId = device.deviceId;
    this.variantId = found ? catalogue.variants[picks[0]].id : null;
  }

  get chosen() {
    return this.render().chosen;
  }
  get nearest() {
    return this.render().nearest;
  }
  get rejected() {
    return this.render().rejected;
  }
  get reasons() {
    return this.render().reasons;
  }

  toJSON(): PlanDecision {
    const { chosen, nearest, rejected, reasons } = this.render();
    return {
      deviceId: this.deviceId,
      variantId: this.variantId,
      chosen,
      nearest,
      rejected,
      reasons,
    };
  }

  private render() {
    if (this.cache) return this.cache;
    const d = compileDevice(this.device);
    const [leadIndex, ...shown] = this.picks;
    const lead = leadIndex >= 0 ? this.evaluation(d, leadIndex) : null;
    const rejected = shown.map((i) => this.evaluation(d, i));
    const budget = this.device.memoryBudgetBytes;
    const reasons: string[] = [];
    if (this.found && lead) {
      reasons.push(describeChoice(lead, this.policy.latencySloMs, budget));
    } else if (lead) {
      reasons.push(`no variant meets the policy; nearest is ${describeRejection(lead)}`);
    } else {
      reasons.push("no variant meets the policy: the catalogue is empty");
    }
    for (const r of rejected) reasons.push(describeRejection(r));
    if (this.unshown > 0) reasons.push(`${this.unshown} more preferred variants also fail`);
    this.cache = {
      chosen: this.found ? lead : null,
      nearest: this.found ? null : lead,
      rejected,
      reasons,
    };
    return this.cache;
  }

  private evaluation(d: CompiledDevice, i: number): CandidateEvaluation {
    const v = this.catalogue.variants[i];
    const policy = this.policy;
    const batch = policy.batch ?? 1;
    const budget = this.device.memoryBudgetBytes;
    const floor = policy.accuracyFloor ?? 0;
    const predictedMs = predictCompiledMs(v, d, batch, this.factors);
    const memoryBytes = compiledMemoryBytes(v, batch, this.catalogue.memory);
    const f = failures(v, d, predictedMs, memoryBytes, budget, floor, policy.latencySloMs);
    const violations: Violation[] = [];
    if (f & KERNELS) {
      const missing = KERNEL_TYPES.filter((_, k) => v.kernelMask & d.unsupportedMask & (1 << k));
      violations.push({ constraint: "kernels", value: 0, limit: 0, kernels: missing });
    }
    if (f & MEMORY) violations.push({ constraint: "memory", value: memoryBytes, limit: budget });
    if (f & ACCURACY) violations.push({ constraint: "accuracy", value: v.accuracy, limit: floor });
    if (f & LATENCY) {
      violations.push({ constraint: "latency", value: predictedMs, limit: policy.latencySloMs });
    }
    return {
      variantId: v.id,
      name: v.name,
      accuracy: v.accuracy,
      predictedMs,
      memoryBytes,
      artifactBytes: v.artifactBytes,
      violations,
    };
  }
}

/**
 * True when the objective ranks (accuracy, ms, bytes) a above b. Accuracies within `tie` (exclusive,
 * with room for float rounding) count as equal.
 */
export function prefers(
  objective: Objective,
  tie: number,
  accA: number,
  msA: number,
  bytesA: number,
  accB: number,
  msB: number,
  bytesB: number,
): boolean {
  if (objective === "max-accuracy") {
    if (Math.abs(accA - accB) >= tie - 1e-12) return accA > accB;
    return msA !== msB ? msA < msB : bytesA < bytesB;
  }
  if (objective === "min-latency") return msA !== msB ? msA < msB : accA > accB;
  if (bytesA !== bytesB) return bytesA < bytesB;
  return accA > accB;
}

/** One device, one catalogue: convenience over `new Planner(variants, options).plan(...)`. */
export function planDevice(
  device: DeviceCapabilities,
  variants: readonly VariantCost[],
  policy: PlanPolicy,
  options: PlannerOptions = {},
): PlanDecision {
  return new Planner(variants, options).plan(device, policy);
}

/** Corrected latency prediction for one variant on one device (what selection uses). */
export function predictCorrectedMs(
  variant: VariantCost,
  device: DeviceCapabilities,
  batch = 1,
  correction?: CorrectionModel,
): number {
  const b = predictLatency(variant, device, batch);
  return b.totalMs * correctionFor(correction, device, correctionKey(b)).factor;
}
