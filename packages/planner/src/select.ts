import { type CorrectionModel, correctionFor, correctionKey } from "./correction";
import { describeChoice, describeRejection } from "./format";
import {
  BOUNDS,
  type CompiledDevice,
  type CompiledVariant,
  compileDevice,
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
 * is a few multiply-adds per variant in typed arrays; objects and sentences are only built for
 * the choice and the variants the objective would have preferred.
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

  constructor(variants: readonly VariantCost[], options: PlannerOptions = {}) {
    this.variants = variants.map(compileVariant);
    this.memory = options.memory ?? DEFAULT_MEMORY_MODEL;
    this.correction = options.correction;
    this.maxRejections = options.maxRejections ?? 8;
    this.predicted = new Float64Array(variants.length);
    this.memBytes = new Float64Array(variants.length);
    this.failed = new Uint8Array(variants.length);
  }

  plan(device: DeviceCapabilities, policy: PlanPolicy): PlanDecision {
    const d = compileDevice(device);
    const batch = policy.batch ?? 1;
    const floor = policy.accuracyFloor ?? 0;
    const budget = device.memoryBudgetBytes;
    const factors = this.factorsFor(device);
    const n = this.variants.length;
    for (let i = 0; i < n; i++) {
      const v = this.variants[i];
      const ms = predictCompiledMs(v, d, batch, factors);
      const mem = compiledMemoryBytes(v, batch, this.memory);
      let f = 0;
      if (v.kernelMask & d.unsupportedMask) f |= KERNELS;
      if (mem > budget) f |= MEMORY;
      if (v.accuracy < floor) f |= ACCURACY;
      if (ms > policy.latencySloMs) f |= LATENCY;
      this.predicted[i] = ms;
      this.memBytes[i] = mem;
      this.failed[i] = f;
    }
    const chosen = this.choose(
      policy.objective ?? "max-accuracy",
      policy.accuracyTie ?? DEFAULT_ACCURACY_TIE,
    );
    return this.decide(device, d, policy, chosen);
  }

  planFleet(devices: readonly DeviceCapabilities[], policy: PlanPolicy): PlanDecision[] {
    return devices.map((d) => this.plan(d, policy));
  }

  private choose(objective: Objective, tie: number): number {
    let best = -1;
    for (let i = 0; i < this.variants.length; i++) {
      if (this.failed[i] !== 0) continue;
      if (best < 0 || this.prefers(objective, tie, i, best)) best = i;
    }
    return best;
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

  private decide(
    device: DeviceCapabilities,
    d: CompiledDevice,
    policy: PlanPolicy,
    chosen: number,
  ): PlanDecision {
    const objective = policy.objective ?? "max-accuracy";
    const tie = policy.accuracyTie ?? DEFAULT_ACCURACY_TIE;
    const preferred: number[] = [];
    for (let i = 0; i < this.variants.length; i++) {
      if (this.failed[i] === 0) continue;
      if (chosen < 0 || this.prefers(objective, tie, i, chosen)) preferred.push(i);
    }
    preferred.sort((a, b) => (this.prefers(objective, tie, a, b) ? -1 : 1));
    const shown = preferred.slice(0, this.maxRejections);
    const rejected = shown.map((i) => this.evaluation(i, d, policy, device.memoryBudgetBytes));
    const reasons: string[] = [];
    let chosenEval: CandidateEvaluation | null = null;
    let nearest: CandidateEvaluation | null = null;
    if (chosen >= 0) {
      chosenEval = this.evaluation(chosen, d, policy, device.memoryBudgetBytes);
      reasons.push(describeChoice(chosenEval, policy.latencySloMs, device.memoryBudgetBytes));
    } else {
      const near = this.nearest(policy, device.memoryBudgetBytes);
      if (near >= 0) {
        nearest = this.evaluation(near, d, policy, device.memoryBudgetBytes);
        reasons.push(`no variant meets the policy; nearest is ${describeRejection(nearest)}`);
      } else {
        reasons.push("no variant meets the policy: the catalogue is empty");
      }
    }
    for (const r of rejected) reasons.push(describeRejection(r));
    if (preferred.length > shown.length) {
      reasons.push(`${preferred.length - shown.length} more preferred variants also fail`);
    }
    return {
      deviceId: device.deviceId,
      variantId: chosen >= 0 ? this.variants[chosen].id : null,
      chosen: chosenEval,
      nearest,
      rejected,
      reasons,
    };
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

  private evaluation(
    i: number,
    d: CompiledDevice,
    policy: PlanPolicy,
    budget: number,
  ): CandidateEvaluation {
    const v = this.variants[i];
    const f = this.failed[i];
    const violations: Violation[] = [];
    if (f & KERNELS) {
      const missing = KERNEL_TYPES.filter((_, k) => v.kernelMask & d.unsupportedMask & (1 << k));
      violations.push({ constraint: "kernels", value: 0, limit: 0, kernels: missing });
    }
    if (f & MEMORY)
      violations.push({ constraint: "memory", value: this.memBytes[i], limit: budget });
    if (f & ACCURACY) {
      violations.push({
        constraint: "accuracy",
        value: v.accuracy,
        limit: policy.accuracyFloor ?? 0,
      });
    }
    if (f & LATENCY) {
      violations.push({
        constraint: "latency",
        value: this.predicted[i],
        limit: policy.latencySloMs,
      });
    }
    return {
      variantId: v.id,
      name: v.name,
      accuracy: v.accuracy,
      predictedMs: this.predicted[i],
      memoryBytes: this.memBytes[i],
      artifactBytes: v.artifactBytes,
      violations,
    };
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
