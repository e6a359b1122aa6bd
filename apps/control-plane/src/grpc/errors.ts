import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { RateLimitedError, toPublicError } from "../errors";

/** Typed errors become their status code; anything else is logged and sent as bare INTERNAL. */
export function toServiceError(
  err: unknown,
  logger: Logger,
  method: string,
): Partial<ServiceError> {
  const pub = toPublicError(err);
  if (pub.grpcCode === status.INTERNAL) logger.error({ err, method }, "grpc call failed");
  const out: Partial<ServiceError> = { code: pub.grpcCode, details: pub.body.error.message };
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
