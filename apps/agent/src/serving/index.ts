// The agent's local inference layer. Nothing here imports onnxruntime-node until a model loads.
export { type BatchPolicy, planNextRun, type QueuedRequest, type RunPlan } from "./batch-plan";
export {
  CanaryMismatchError,
  CanaryRunError,
  type CanaryScore,
  evaluateCanary,
} from "./canary-eval";
export * from "./errors";
// grpc-api is imported from its own module, on demand: it loads grpc-js.
export type { GrpcApiOptions, RunningGrpcApi } from "./grpc-api";
export {
  DIMS_HEADER,
  GENERATION_HEADER,
  type HttpApiOptions,
  OUTPUT_HEADER,
  type RunningHttpApi,
  startHttpApi,
} from "./http-api";
export { type MetricsSource, ServingMetrics } from "./metrics";
export {
  type InferResult,
  ModelSlot,
  type ModelSlotOptions,
  type NamedTensor,
  type RequestOutcome,
  type RunFailure,
  type ServingInfo,
  type ServingMeta,
  type ServingModel,
  type ServingObserver,
  type SwapOptions,
  type Swapped,
} from "./model-slot";
export { checkManifestInput, type PrepareOptions, prepareModel, servingMeta } from "./prepare";
export {
  type InferenceRuntime,
  type LoadedModel,
  type ModelLoadOptions,
  type OutputTensor,
  ortRuntime,
  warmUp,
} from "./runtime";
export {
  compareTop1,
  OutputShapeError,
  type ShadowMiss,
  type ShadowSkip,
  top1,
} from "./shadow-plan";
