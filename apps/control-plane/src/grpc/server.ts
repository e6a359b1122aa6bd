// gRPC transport. Handlers check input through the same services as REST and map typed errors
// to status codes; internal errors are logged, never sent.

import {
  type EnrollmentServiceServer,
  EnrollmentServiceService,
  type EnrollRequest,
  type EnrollResponse,
} from "@edgefleet/protocol";
import {
  type handleUnaryCall,
  Server,
  ServerCredentials,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { toPublicError } from "../errors";
import type { EnrollmentService } from "../services/enrollment-service";

export interface GrpcDeps {
  enrollment: EnrollmentService;
  logger: Logger;
}

export function createGrpcServer(deps: GrpcDeps): Server {
  const server = new Server({ "grpc.max_receive_message_length": 1 << 20 });
  const enroll: handleUnaryCall<EnrollRequest, EnrollResponse> = (call, callback) => {
    const req = call.request;
    deps.enrollment
      .enroll({
        token: req.token,
        publicKey: req.publicKey,
        name: req.name,
        agentVersion: req.agentVersion,
        facts: req.facts,
        labels: req.labels,
      })
      .then((res) => callback(null, res))
      .catch((err) => callback(toServiceError(err, deps.logger, "Enroll")));
  };
  const impl: EnrollmentServiceServer = { enroll };
  server.addService(EnrollmentServiceService, impl);
  return server;
}

function toServiceError(err: unknown, logger: Logger, method: string): Partial<ServiceError> {
  const pub = toPublicError(err);
  if (pub.grpcCode === status.INTERNAL) logger.error({ err, method }, "grpc call failed");
  return { code: pub.grpcCode, details: pub.body.error.message };
}

export function bindGrpc(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
}
