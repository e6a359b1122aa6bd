// gRPC transport. Handlers check input through the same services as REST and map typed errors
// to status codes; internal errors are logged, never sent.

import {
  addGuardedService,
  type EnrollmentServiceServer,
  EnrollmentServiceService,
  type EnrollRequest,
  type EnrollResponse,
  FleetServiceService,
  JobServiceService,
  type RenewCredentialsRequest,
  type RenewCredentialsResponse,
} from "@edgefleet/protocol/grpc";
import { type handleUnaryCall, Server, ServerCredentials } from "@grpc/grpc-js";
import { type JobGrpcDeps, jobServiceImpl } from "../jobs/job-grpc";
import type { CredentialsService } from "../services/credentials-service";
import type { EnrollmentService } from "../services/enrollment-service";
import { peerAddress } from "../services/rate-limit";
import { toServiceError } from "./errors";
import { type FleetServiceDeps, fleetServiceImpl } from "./fleet-service";

export interface GrpcDeps extends FleetServiceDeps {
  enrollment: EnrollmentService;
  credentials: CredentialsService;
  jobs: JobGrpcDeps["jobs"];
}

export function createGrpcServer(deps: GrpcDeps): Server {
  const server = new Server({ "grpc.max_receive_message_length": 1 << 20 });
  const enroll: handleUnaryCall<EnrollRequest, EnrollResponse> = (call, callback) => {
    const req = call.request;
    deps.enrollment
      .enroll(
        {
          token: req.token,
          publicKey: req.publicKey,
          name: req.name,
          agentVersion: req.agentVersion,
          facts: req.facts,
          labels: req.labels,
        },
        peerAddress(call.getPeer()),
      )
      .then((res) => callback(null, res))
      .catch((err) => callback(toServiceError(err, deps.logger, "Enroll")));
  };
  const renewCredentials: handleUnaryCall<RenewCredentialsRequest, RenewCredentialsResponse> = (
    call,
    callback,
  ) => {
    const req = call.request;
    deps.credentials
      .renew({ deviceId: req.deviceId, timestamp: req.timestamp, signature: req.signature })
      .then((res) => callback(null, res))
      .catch((err) => callback(toServiceError(err, deps.logger, "RenewCredentials")));
  };
  const impl: EnrollmentServiceServer = { enroll, renewCredentials };
  // Through the decode guard: undecodable bytes are the client's fault (INVALID_ARGUMENT).
  addGuardedService(server, EnrollmentServiceService, impl);
  addGuardedService(server, FleetServiceService, fleetServiceImpl(deps));
  addGuardedService(server, JobServiceService, jobServiceImpl(deps));
  return server;
}

export function bindGrpc(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
}
