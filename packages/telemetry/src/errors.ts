/**
 * A sketch from a device or a stored row could not be read. The consumer drops the message (or
 * the row) and carries on: one bad device must not stop ingest for the fleet.
 */
export class SketchDecodeError extends Error {
  override name = "SketchDecodeError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A latency the sketch cannot hold (negative, not finite, or beyond `MAX_LATENCY_MS`). */
export class InvalidLatencyError extends RangeError {
  override name = "InvalidLatencyError";
  constructor(readonly value: number) {
    super(`latency ${value} ms is outside [0, 1e9] ms`);
  }
}

/** `mergeRollup` was given a delta for another device, variant or minute than the row. */
export class RollupKeyMismatchError extends Error {
  override name = "RollupKeyMismatchError";
}
