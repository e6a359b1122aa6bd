// The agent's local gRPC inference API (edgefleet.v1.LocalInferenceService), over the same
// ModelSlot as the HTTP API. Errors carry the field at fault in the message ("dims: ...") and in
// the `x-edgefleet-field` trailer; only ServingError messages reach a client.
import {
  addGuardedService,
  GetModelResponse,
  type InferRequest,
  InferResponse,
  type LocalInferenceServiceServer,
  LocalInferenceServiceService,
} from "@edgefleet/protocol/grpc";
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerErrorResponse,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { InvalidInputError, ServingError } from "./errors";
import { float32FromLe, float32ToLe } from "./float-bytes";
import type { ModelSlot } from "./model-slot";

export const FIELD_TRAILER = "x-edgefleet-field";

export interface GrpcApiOptions {
  slot: ModelSlot;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port (see `RunningGrpcApi.port`). */
  port?: number;
  /** Largest request or response message; default 32 MiB, like the HTTP API's body cap. */
  maxMessageBytes?: number;
  logger?: Pick<Logger, "error">;
}

export interface RunningGrpcApi {
  host: string;
  port: number;
  /** host:port for a client. */
  address: string;
  /** Lets calls in progress finish for up to `graceMs`, then cancels the rest. */
  close(graceMs?: number): Promise<void>;
}

export async function startGrpcApi(options: GrpcApiOptions): Promise<RunningGrpcApi> {
  const host = options.host ?? "127.0.0.1";
  const max = options.maxMessageBytes ?? 32 * 1024 * 1024;
  const server = new Server({
    "grpc.max_receive_message_length": max,
    "grpc.max_send_message_length": max,
  });
  addGuardedService(server, LocalInferenceServiceService, handlers(options.slot, options.logger), {
    fieldTrailer: FIELD_TRAILER,
  });
  const hostPort = `${host.includes(":") ? `[${host}]` : host}:${options.port ?? 0}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostPort, ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return { host, port, address, close: (graceMs = 2_000) => shutdown(server, graceMs) };
}

function handlers(slot: ModelSlot, logger?: Pick<Logger, "error">): LocalInferenceServiceServer {
  return {
    infer(call, callback) {
      const answer = async () => {
        const { input, dims, inputField } = readRequest(call.request);
        const result = await slot.infer(input, dims).catch((err) => {
          // Name what the client sent: `data` or `values`, not the slot's generic `input`.
          if (err instanceof InvalidInputError && err.field === "input") {
            throw new InvalidInputError(inputField, err.problem);
          }
          throw err;
        });
        return InferResponse.fromPartial({
          outputs: result.outputs.map((o) => ({
            name: o.name,
            dims: o.dims,
            data: float32ToLe(o.data),
          })),
          variantId: result.model.variantId,
          variantName: result.model.variantName,
          generation: result.model.generation,
          latencyMs: result.latencyMs,
        });
      };
      answer().then(
        (res) => callback(null, res),
        (err) => callback(toGrpcError(err, logger)),
      );
    },
    getModel(_call, callback) {
      const info = slot.describe();
      if (!info) {
        callback(null, GetModelResponse.fromPartial({ loaded: false }));
        return;
      }
      callback(null, {
        loaded: true,
        variantId: info.variantId,
        variantName: info.variantName,
        generation: info.generation,
        digest: info.digest,
        kernelType: info.kernelType,
        simulatedSlowdown: info.simulatedSlowdown,
        inputName: info.inputName,
        sampleDims: info.sampleDims,
        outputNames: info.outputNames,
        dynamicBatch: info.dynamicBatch,
        options: info.options,
      });
    },
  };
}

function readRequest(req: InferRequest): {
  input: Float32Array;
  dims?: number[];
  inputField: "data" | "values";
} {
  const hasData = req.data.byteLength > 0;
  const hasValues = req.values.length > 0;
  if (hasData && hasValues) {
    throw new InvalidInputError("data", "set data (float32 LE bytes) or values, not both");
  }
  if (hasData && req.data.byteLength % 4 !== 0) {
    throw new InvalidInputError(
      "data",
      `${req.data.byteLength} bytes is not a whole number of float32 values`,
    );
  }
  const input = hasData ? float32FromLe(req.data) : Float32Array.from(req.values);
  const dims = req.dims.length > 0 ? req.dims : undefined;
  return { input, dims, inputField: hasData ? "data" : "values" };
}

function toGrpcError(err: unknown, logger?: Pick<Logger, "error">): ServerErrorResponse {
  if (!(err instanceof ServingError)) {
    logger?.error({ err }, "local inference gRPC: unexpected error");
    return { name: "InternalError", message: "internal error", code: status.INTERNAL };
  }
  const metadata = new Metadata();
  if (err.field) metadata.set(FIELD_TRAILER, err.field);
  return {
    name: err.name,
    message: err.message,
    code: err.grpcCode,
    details: err.message,
    metadata,
  };
}

function shutdown(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    cut.unref();
    server.tryShutdown(() => {
      clearTimeout(cut);
      resolve();
    });
  });
}
