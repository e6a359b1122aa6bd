import type { CorrectionModel } from "./correction";
import { fmtMs } from "./format";
import { predictLatency } from "./latency-model";
import { DEFAULT_MEMORY_MODEL, estimateMemory, type MemoryModelOptions } from "./memory-model";
import { predictCorrectedMs, prefers } from "./select";
import type { DeviceCapabilities, PlanPolicy, VariantCost } from "./types";
import { DEFAULT_ACCURACY_TIE } from "./types";

/** What telemetry says about the current variant over the last window. */
export interface LatencyWindow {
  /** Latency the SLO is judged on (p95 of the window, by convention). */
  measuredMs: number;
  samples: number;
}

export interface HysteresisOptions {
  /** Move down only when measured > SLO x (1 + downMargin). Default 0.05. */
  downMargin: number;
  /** A move down must land at predicted <= SLO x (1 - downHeadroom). Default 0.1. */
  downHeadroom: number;
  /** Move up only to a variant predicted <= SLO x (1 - upMargin). Default 0.3. */
  upMargin: number;
  /** Windows with fewer samples decide nothing. Default 30. */
  minSamples: number;
  /** No move down sooner than this after the last change. Default 60 s. */
  downCooldownMs: number;
  /** No move up sooner than this after the last change: moving up is never urgent. Default 10 min. */
  upCooldownMs: number;
}

export const DEFAULT_HYSTERESIS: HysteresisOptions = {
  downMargin: 0.05,
  downHeadroom: 0.1,
  upMargin: 0.3,
  minSamples: 30,
  downCooldownMs: 60_000,
  upCooldownMs: 600_000,
};

export interface RetargetInput {
  device: DeviceCapabilities;
  variants: readonly VariantCost[];
  policy: PlanPolicy;
  currentVariantId: string;
  window: LatencyWindow;
  /** When the device last changed variant (ms since epoch) and the current time. */
  lastChangeAt: number;
  now: number;
  correction?: CorrectionModel;
  hysteresis?: Partial<HysteresisOptions>;
  memory?: MemoryModelOptions;
}

export type RetargetAction = "keep" | "move-down" | "move-up";

export interface RetargetDecision {
  action: RetargetAction;
  fromVariantId: string;
  /** Equal to fromVariantId when the action is "keep". */
  toVariantId: string;
  reason: string;
  measuredMs: number;
  sloMs: number;
  /** measured / predicted for the current variant: how much slower this device is than modelled. */
  observedRatio: number;
  /** The target's prediction scaled by observedRatio (undefined on keep). */
  targetPredictedMs?: number;
}

interface Scaled {
  v: VariantCost;
  ms: number;
  eligible: boolean;
}

/**
 * Keep / move-down / move-up from a window of field latency. Predictions for other variants are
 * scaled by what the current one really does here (the device may be busier than profiled), and
 * the three margins plus two cool-downs keep a device that sits near its SLO from flapping.
 */
export function decideRetarget(input: RetargetInput): RetargetDecision {
  const h = { ...DEFAULT_HYSTERESIS, ...input.hysteresis };
  const { policy, window: w } = input;
  const slo = policy.latencySloMs;
  const current = input.variants.find((v) => v.id === input.currentVariantId);
  const base = {
    fromVariantId: input.currentVariantId,
    toVariantId: input.currentVariantId,
    measuredMs: w.measuredMs,
    sloMs: slo,
  };
  const keep = (reason: string, observedRatio = 1): RetargetDecision => ({
    ...base,
    action: "keep",
    reason,
    observedRatio,
  });
  if (!current) return keep(`current variant ${input.currentVariantId} is not in the catalogue`);
  if (w.samples < h.minSamples) {
    return keep(`only ${w.samples} samples in the window (need ${h.minSamples})`);
  }
  const batch = policy.batch ?? 1;
  const currentPredicted = predictCorrectedMs(current, input.device, batch, input.correction);
  const ratio = currentPredicted > 0 ? w.measuredMs / currentPredicted : 1;
  const scaled = scaleAll(input, batch, ratio);
  const sinceChange = input.now - input.lastChangeAt;
  const name = current.name ?? current.id;

  if (w.measuredMs > slo * (1 + h.downMargin)) {
    const over = `measured ${fmtMs(w.measuredMs)} > SLO ${fmtMs(slo)}`;
    if (sinceChange < h.downCooldownMs) {
      const left = Math.ceil((h.downCooldownMs - sinceChange) / 1000);
      return keep(`${name}: ${over}, but within the cool-down (${left} s left)`, ratio);
    }
    const target = best(
      scaled.filter((s) => s.eligible && s.v.id !== current.id && s.ms < w.measuredMs),
      slo * (1 - h.downHeadroom),
      policy,
    );
    if (!target) return keep(`${name}: ${over}, and no faster variant fits`, ratio);
    return move("move-down", base, ratio, target, `${name}: ${over}`);
  }

  const upLimit = slo * (1 - h.upMargin);
  const better = scaled.filter((s) => s.eligible && s.v.accuracy > current.accuracy);
  const target = best(better, upLimit, policy);
  if (target && sinceChange >= h.upCooldownMs) {
    const why = `${name}: measured ${fmtMs(w.measuredMs)} leaves room under SLO ${fmtMs(slo)}`;
    return move("move-up", base, ratio, target, why);
  }
  if (target) {
    const left = Math.ceil((h.upCooldownMs - sinceChange) / 1000);
    return keep(
      `${name}: ${target.v.name ?? target.v.id} would fit, but within the cool-down (${left} s left)`,
      ratio,
    );
  }
  return keep(`${name}: measured ${fmtMs(w.measuredMs)} meets SLO ${fmtMs(slo)}`, ratio);
}

function scaleAll(input: RetargetInput, batch: number, ratio: number): Scaled[] {
  const floor = input.policy.accuracyFloor ?? 0;
  const budget = input.device.memoryBudgetBytes;
  const memory = input.memory ?? DEFAULT_MEMORY_MODEL;
  return input.variants.map((v) => {
    const ms = predictCorrectedMs(v, input.device, batch, input.correction) * ratio;
    const fits = estimateMemory(v, batch, memory).totalBytes <= budget;
    const runs = predictLatency(v, input.device, batch).unsupported.length === 0;
    return { v, ms, eligible: fits && runs && v.accuracy >= floor };
  });
}

/** The objective's favourite among variants predicted within the limit. */
function best(cands: Scaled[], limitMs: number, policy: PlanPolicy): Scaled | undefined {
  const tie = policy.accuracyTie ?? DEFAULT_ACCURACY_TIE;
  const objective = policy.objective ?? "max-accuracy";
  let pick: Scaled | undefined;
  for (const c of cands) {
    if (c.ms > limitMs) continue;
    const a = c.v;
    const p = pick?.v;
    if (!pick || !p) pick = c;
    else if (
      prefers(
        objective,
        tie,
        a.accuracy,
        c.ms,
        a.artifactBytes,
        p.accuracy,
        pick.ms,
        p.artifactBytes,
      )
    ) {
      pick = c;
    }
  }
  return pick;
}

function move(
  action: "move-down" | "move-up",
  base: Omit<RetargetDecision, "action" | "reason" | "observedRatio">,
  ratio: number,
  target: Scaled,
  why: string,
): RetargetDecision {
  const to = target.v.name ?? target.v.id;
  return {
    ...base,
    action,
    toVariantId: target.v.id,
    observedRatio: ratio,
    targetPredictedMs: target.ms,
    reason: `${why}; ${action} to ${to} (predicted ${fmtMs(target.ms)} on this device)`,
  };
}
