export type {
  CorrectionFactor,
  CorrectionModel,
  Effect,
  LatencyObservation,
} from "./correction";
export { correctionFor, correctionKey, fitCorrection, median, quantile } from "./correction";
export type {
  CapabilitiesOptions,
  DeviceProfileLike,
  KernelFigure,
  Measure,
  ProfileFigures,
} from "./device";
export { capabilitiesFromProfile } from "./device";
export { describeViolation, fmtBytes, fmtMs, fmtPct } from "./format";
export type {
  CompiledDevice,
  CompiledVariant,
  LatencyBound,
  LatencyBreakdown,
} from "./latency-model";
export { compileDevice, compileVariant, predictLatency } from "./latency-model";
export type { MemoryEstimate, MemoryModelOptions } from "./memory-model";
export { DEFAULT_MEMORY_MODEL, estimateMemory } from "./memory-model";
export type {
  HysteresisOptions,
  LatencyWindow,
  RetargetAction,
  RetargetDecision,
  RetargetInput,
} from "./retarget";
export { DEFAULT_HYSTERESIS, decideRetarget } from "./retarget";
export type { PlannerOptions } from "./select";
export { Planner, planDevice, predictCorrectedMs, prefers } from "./select";
export * from "./types";
