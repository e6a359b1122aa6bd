// Typed errors of the local inference layer. Each carries the HTTP status and gRPC code its
// transports answer with, so both APIs agree; anything else reaching a transport is a bug, logged
// and answered as a bare "internal error".

/**
 * The gRPC status codes these errors map to, by their numbers in the gRPC spec (they never
 * change): importing them from grpc-js would load it into agents that serve only HTTP.
 */
export const GrpcStatus = {
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

export abstract class ServingError extends Error {
  abstract readonly httpStatus: number;
  abstract readonly grpcCode: GrpcStatus;
  abstract readonly code: string;
  /** The request field at fault, when there is one. */
  readonly field?: string;
}

/** A request the model cannot take: names the field and what was wrong with it. */
export class InvalidInputError extends ServingError {
  override name = "InvalidInputError";
  readonly httpStatus = 400;
  readonly grpcCode = GrpcStatus.INVALID_ARGUMENT;
  readonly code = "invalid_argument";
  override readonly field: string;
  constructor(
    field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

export class NoModelError extends ServingError {
  override name = "NoModelError";
  readonly httpStatus = 503;
  readonly grpcCode = GrpcStatus.UNAVAILABLE;
  readonly code = "no_model";
  constructor() {
    super("no model is loaded on this device yet");
  }
}

export class QueueFullError extends ServingError {
  override name = "QueueFullError";
  readonly httpStatus = 429;
  readonly grpcCode = GrpcStatus.RESOURCE_EXHAUSTED;
  readonly code = "queue_full";
  constructor(readonly queueLimit: number) {
    super(`the inference queue is full (${queueLimit} requests waiting); retry later`);
  }
}

/** ONNX Runtime threw while running: the request was valid, the model failed on it. */
export class InferenceFailedError extends ServingError {
  override name = "InferenceFailedError";
  readonly httpStatus = 500;
  readonly grpcCode = GrpcStatus.INTERNAL;
  readonly code = "inference_failed";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** ONNX Runtime refused to load the model; the message carries ORT's first line. */
export class ModelLoadError extends Error {
  override name = "ModelLoadError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The model loads but is not one this layer serves (not a single float32 input, ...). */
export class UnsupportedModelError extends Error {
  override name = "UnsupportedModelError";
  constructor(
    /** The input or output at fault. */
    readonly tensor: string,
    problem: string,
  ) {
    super(`${tensor}: ${problem}`);
  }
}

/** The loaded model does not match what its signed manifest says about its input. */
export class ManifestMismatchError extends Error {
  override name = "ManifestMismatchError";
}

/** A swap was asked with metadata or options the slot cannot serve with; nothing changed. */
export class InvalidServingModelError extends Error {
  override name = "InvalidServingModelError";
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}
