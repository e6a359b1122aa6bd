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
import { type handleServerStreamingCall, type handleUnaryCall, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { toServiceError } from "../grpc/errors";
import { bearer } from "../grpc/fleet-service";
import type { Authenticator } from "../services/auth-service";
import type { JobService } from "./job-service";

export interface JobGrpcDeps {
  auth: Authenticator;
  jobs: JobService;
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
    const end = () => {
      unsubscribe();
      call.end();
    };
    call.on("cancelled", () => unsubscribe());
    deps.auth
      .authenticate(bearer(call.metadata))
      .then(async () => {
        // Subscribed before the first read: a change between the two is not missed.
        unsubscribe = deps.jobs.watch(call.request.jobId, (next) => {
          call.write({ job: jobMessage(next) });
          if (next.state !== "running") end();
        });
        const view = await deps.jobs.get(call.request.jobId);
        call.write({ job: jobMessage(view) });
        if (view.state !== "running") end();
      })
      .catch((err) => {
        unsubscribe();
        const e = toServiceError(err, deps.logger, "WatchJob");
        call.destroy(
          Object.assign(new Error(e.details ?? "error"), {
            code: e.code ?? status.INTERNAL,
            details: e.details,
          }),
        );
      });
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
