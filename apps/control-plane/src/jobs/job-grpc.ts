// gRPC JobService: GetJob, CancelJob and WatchJob (the view now, then every job.updated, until
// completed or cancelled),
// over the same JobService as REST and the WebSocket stream.

import type { JobView } from "@edgefleet/protocol";
import type {
  CancelJobRequest,
  CancelJobResponse,
  GetJobRequest,
  GetJobResponse,
  Job,
  JobServiceServer,
  WatchJobRequest,
  WatchJobResponse,
} from "@edgefleet/protocol/grpc";
import type { handleServerStreamingCall, handleUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { failStream, toServiceError } from "../grpc/errors";
import { bearer, endOnTokenEnd } from "../grpc/fleet-service";
import type { Authenticator } from "../services/auth-service";
import type { TokenRevocations } from "../token-revocations";
import type { JobService } from "./job-service";

export interface JobGrpcDeps {
  auth: Authenticator;
  jobs: JobService;
  /** Revocations end this token's open watches (issue 11). */
  revocations?: TokenRevocations;
  logger: Logger;
}

export function jobServiceImpl(deps: JobGrpcDeps): JobServiceServer {
  const getJob: handleUnaryCall<GetJobRequest, GetJobResponse> = (call, callback) => {
    deps.auth
      .authenticate(bearer(call.metadata))
      .then(() => deps.jobs.get(call.request.jobId))
      .then((view) => callback(null, { job: jobMessage(view) }))
      .catch((err) => callback(toServiceError(err, deps.logger, "GetJob")));
  };
  const cancelJob: handleUnaryCall<CancelJobRequest, CancelJobResponse> = (call, callback) => {
    deps.auth
      .authenticate(bearer(call.metadata))
      .then((principal) =>
        deps.jobs.cancel(
          principal,
          call.request.jobId,
          call.request.reason ? { reason: call.request.reason } : {},
        ),
      )
      .then((view) => callback(null, { job: jobMessage(view) }))
      .catch((err) => callback(toServiceError(err, deps.logger, "CancelJob")));
  };
  const watchJob: handleServerStreamingCall<WatchJobRequest, WatchJobResponse> = (call) => {
    let unsubscribe = () => {};
    let stopTokenWatch = () => {};
    const cleanup = () => {
      unsubscribe();
      stopTokenWatch();
    };
    const end = () => {
      cleanup();
      call.end();
    };
    const fail = (err: unknown) => {
      cleanup();
      failStream(call, err, deps.logger, "WatchJob");
    };
    call.on("cancelled", cleanup);
    deps.auth
      .authenticate(bearer(call.metadata))
      .then(async (principal) => {
        stopTokenWatch = endOnTokenEnd(principal, deps.revocations, fail);
        // Subscribed before the first read: a change between the two is not missed.
        unsubscribe = deps.jobs.watch(call.request.jobId, (next) => {
          call.write({ job: jobMessage(next) });
          if (next.state !== "running") end();
        });
        const view = await deps.jobs.get(call.request.jobId);
        call.write({ job: jobMessage(view) });
        if (view.state !== "running") end();
      })
      .catch(fail);
  };
  return { getJob, watchJob, cancelJob };
}

export function jobMessage(v: JobView): Job {
  return {
    id: v.id,
    name: v.name,
    state: v.state,
    variantId: v.model.mode === "variant" ? v.model.variantId : "",
    samples: v.samples,
    shardSize: v.shardSize,
    devices: v.devices,
    shards: v.shards,
    duplicates: v.duplicates,
    ...(v.accuracy === null ? {} : { accuracy: v.accuracy }),
    samplesPerSecond: v.samplesPerSecond,
    perDevice: v.perDevice,
    perClass: v.perClass,
    parked: v.parked,
    createdAt: v.createdAt,
    completedAt: v.completedAt ?? "",
    cancelledBy: v.cancelled?.by ?? "",
    cancelReason: v.cancelled?.reason ?? "",
    lateResults: v.lateResults,
  };
}
