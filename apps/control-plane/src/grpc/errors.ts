import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { RateLimitedError, toPublicError } from "../errors";

/**
 * Longest `details` sent. The message travels percent-encoded in an HTTP/2 trailer, and one
 * that echoes a 200 KB id goes past the peer's header list limit: the call never ended and the
 * client's connection stopped answering (fuzz, issue 11).
 */
export const MAX_DETAILS_CHARS = 1_024;

export function capDetails(text: string): string {
  return text.length <= MAX_DETAILS_CHARS
    ? text
    : `${text.slice(0, MAX_DETAILS_CHARS)}... (${text.length} characters)`;
}

/** Typed errors become their status code; anything else is logged and sent as bare INTERNAL. */
export function toServiceError(
  err: unknown,
  logger: Logger,
  method: string,
): Partial<ServiceError> {
  const pub = toPublicError(err);
  if (pub.grpcCode === status.INTERNAL) logger.error({ err, method }, "grpc call failed");
  const out: Partial<ServiceError> = {
    code: pub.grpcCode,
    details: capDetails(pub.body.error.message),
  };
  if (err instanceof RateLimitedError) {
    out.metadata = new Metadata();
    out.metadata.set("retry-after-ms", String(err.retryAfterMs));
  }
  return out;
}

/**
 * Ends a server stream with the error's status. `call.destroy(err)` sends no status (the client
 * sees the stream cut); grpc-js turns an emitted "error" into the trailers and ends the call.
 */
export function failStream(
  call: { emit(event: "error", err: Partial<ServiceError>): boolean },
  err: unknown,
  logger: Logger,
  method: string,
): void {
  call.emit("error", toServiceError(err, logger, method));
}
