export { MAX_LATENCY_MS, MIN_LATENCY_MS, RELATIVE_ACCURACY } from "./codec";
export type { Cursor } from "./cursor";
export { compareCursor, hasSeen, markSeen, SEEN_WINDOW } from "./cursor";
export { InvalidLatencyError, RollupKeyMismatchError, SketchDecodeError } from "./errors";
export type {
  FoldResult,
  InvalidTelemetry,
  RollupDelta,
  RollupRow,
  StoredRollup,
} from "./fold";
export {
  addRollup,
  foldTelemetry,
  fromStoredRollup,
  MINUTE_MS,
  mergeRollup,
  toStoredRollup,
} from "./fold";
export type { OfflineBufferOptions } from "./offline-buffer";
export { OfflineBuffer } from "./offline-buffer";
export type { SketchStats } from "./sketch";
export { LatencySketch } from "./sketch";
export type { RollupSummary, SeriesPoint } from "./summarize";
export { series, summarizeRollups } from "./summarize";
export type { RequestOutcome, SnapshotFields } from "./window";
export { TelemetryWindow } from "./window";
