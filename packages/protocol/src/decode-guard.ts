// One decode guard for every gRPC service (issue 11). grpc-js answers a request whose bytes are
// no valid protobuf message with INTERNAL ("Error deserializing request"), as if the server had
// failed. Registered through `addGuardedService`, a request that does not decode is answered
// INVALID_ARGUMENT naming `request` instead, before the handler runs.
import {
  Metadata,
  type MethodDefinition,
  type Server,
  type ServiceDefinition,
  type ServiceError,
  status,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";

/** What a request that failed to decode is replaced with, for the handler wrapper to answer. */
class UndecodableRequest {
  constructor(readonly problem: string) {}
}

export interface DecodeGuardOptions {
  /** A trailer that names the field at fault (`request`), e.g. the agent's `x-edgefleet-field`. */
  fieldTrailer?: string;
}

/** `server.addService`, with requests that do not decode answered INVALID_ARGUMENT. */
export function addGuardedService(
  server: Server,
  service: ServiceDefinition,
  impl: UntypedServiceImplementation,
  options: DecodeGuardOptions = {},
): void {
  const guardedService: Record<string, MethodDefinition<unknown, unknown>> = {};
  const guardedImpl: UntypedServiceImplementation = { ...impl };
  for (const [name, method] of Object.entries(service)) {
    guardedService[name] = guardMethod(method);
    const handler = impl[name];
    if (handler && !method.requestStream) {
      guardedImpl[name] = guardHandler(method, handler, options);
    }
  }
  server.addService(guardedService, guardedImpl);
}

function guardMethod(method: MethodDefinition<unknown, unknown>) {
  // A client stream's messages reach the handler as "data" events: not guarded (none in our
  // protos); its decode failures stay grpc-js's INTERNAL.
  if (method.requestStream) return method;
  return {
    ...method,
    requestDeserialize: (bytes: Buffer) => {
      try {
        return method.requestDeserialize(bytes);
      } catch (err) {
        return new UndecodableRequest(err instanceof Error ? err.message : String(err));
      }
    },
  };
}

function guardHandler(
  method: MethodDefinition<unknown, unknown>,
  handler: UntypedHandleCall,
  options: DecodeGuardOptions,
): UntypedHandleCall {
  return ((
    call: { request: unknown; emit(e: "error", err: unknown): boolean },
    callback?: (err: unknown) => void,
  ) => {
    if (!(call.request instanceof UndecodableRequest)) {
      return (handler as (c: unknown, cb?: unknown) => void)(call, callback);
    }
    const err: Partial<ServiceError> = {
      code: status.INVALID_ARGUMENT,
      details: `request: not a valid protobuf message for ${method.path} (${call.request.problem})`,
    };
    if (options.fieldTrailer) {
      err.metadata = new Metadata();
      err.metadata.set(options.fieldTrailer, "request");
    }
    // Server streams end with the status through an emitted "error" (see failStream).
    if (method.responseStream) call.emit("error", err);
    else callback?.(err);
  }) as UntypedHandleCall;
}
