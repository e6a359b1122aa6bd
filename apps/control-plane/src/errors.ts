// Typed errors raised by services. Transports map them to status codes; anything else is an
// internal error whose details stay in the log, never in a response.
import { status as GrpcStatus } from "@grpc/grpc-js";

export abstract class ServiceError extends Error {
  abstract readonly httpStatus: number;
  abstract readonly grpcCode: GrpcStatus;
  abstract readonly code: string;
}

/** Bad input: names the field and what was wrong with it. */
export class InvalidArgumentError extends ServiceError {
  override name = "InvalidArgumentError";
  readonly httpStatus = 400;
  readonly grpcCode = GrpcStatus.INVALID_ARGUMENT;
  readonly code = "invalid_argument";
  constructor(
    readonly field: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${field}: ${problem}`, options);
  }
}

export class UnauthenticatedError extends ServiceError {
  override name = "UnauthenticatedError";
  readonly httpStatus = 401;
  readonly grpcCode = GrpcStatus.UNAUTHENTICATED;
  readonly code = "unauthenticated";
}

export class PermissionDeniedError extends ServiceError {
  override name = "PermissionDeniedError";
  readonly httpStatus = 403;
  readonly grpcCode = GrpcStatus.PERMISSION_DENIED;
  readonly code = "permission_denied";
}

export class NotFoundError extends ServiceError {
  override name = "NotFoundError";
  readonly httpStatus = 404;
  readonly grpcCode = GrpcStatus.NOT_FOUND;
  readonly code = "not_found";
}

export class ConflictError extends ServiceError {
  override name = "ConflictError";
  readonly httpStatus = 409;
  readonly grpcCode = GrpcStatus.ALREADY_EXISTS;
  readonly code = "conflict";
}

/** A 409 for what the thing's state forbids (cancel a finished job); gRPC FAILED_PRECONDITION. */
export class StateConflictError extends ServiceError {
  override name = "StateConflictError";
  readonly httpStatus = 409;
  readonly grpcCode = GrpcStatus.FAILED_PRECONDITION;
  readonly code = "conflict";
}

export class PayloadTooLargeError extends ServiceError {
  override name = "PayloadTooLargeError";
  readonly httpStatus = 413;
  readonly grpcCode = GrpcStatus.RESOURCE_EXHAUSTED;
  readonly code = "payload_too_large";
}

export class UnavailableError extends ServiceError {
  override name = "UnavailableError";
  readonly httpStatus = 503;
  readonly grpcCode = GrpcStatus.UNAVAILABLE;
  readonly code = "unavailable";
}

export interface PublicError {
  httpStatus: number;
  grpcCode: GrpcStatus;
  body: { error: { code: string; message: string; field?: string } };
}

/** What a client may see of an error. Unknown errors become a bare "internal error". */
export function toPublicError(err: unknown): PublicError {
  if (err instanceof ServiceError) {
    const field = err instanceof InvalidArgumentError ? err.field : undefined;
    return {
      httpStatus: err.httpStatus,
      grpcCode: err.grpcCode,
      body: { error: { code: err.code, message: err.message, ...(field ? { field } : {}) } },
    };
  }
  return {
    httpStatus: 500,
    grpcCode: GrpcStatus.INTERNAL,
    body: { error: { code: "internal", message: "internal error" } },
  };
}

/** Too many requests from one source or with one credential; gRPC RESOURCE_EXHAUSTED. */
export class RateLimitedError extends ServiceError {
  override name = "RateLimitedError";
  readonly httpStatus = 429;
  readonly grpcCode = GrpcStatus.RESOURCE_EXHAUSTED;
  readonly code = "rate_limited";
  constructor(
    message: string,
    /** When a retry may succeed; sent as gRPC metadata `retry-after-ms`. */
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** No answer within the request's deadline (a pipeline request); gRPC DEADLINE_EXCEEDED. */
export class DeadlineExceededError extends ServiceError {
  override name = "DeadlineExceededError";
  readonly httpStatus = 504;
  readonly grpcCode = GrpcStatus.DEADLINE_EXCEEDED;
  readonly code = "deadline_exceeded";
}

/** A device doing the work answered with a failure (a pipeline stage); 502. */
export class UpstreamFailedError extends ServiceError {
  override name = "UpstreamFailedError";
  readonly httpStatus = 502;
  readonly grpcCode = GrpcStatus.INTERNAL;
  readonly code = "stage_failed";
}
