import { type ServiceError, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { toPublicError } from "../errors";

/** Typed errors become their status code; anything else is logged and sent as bare INTERNAL. */
export function toServiceError(
  err: unknown,
  logger: Logger,
  method: string,
): Partial<ServiceError> {
  const pub = toPublicError(err);
  if (pub.grpcCode === status.INTERNAL) logger.error({ err, method }, "grpc call failed");
  return { code: pub.grpcCode, details: pub.body.error.message };
}
