// gRPC FleetService: the operator API's profile and planning calls, over the same services as REST.

import type {
  AssignVariantRequest,
  AssignVariantResponse,
  CreatePlanRequest,
  CreatePlanResponse,
  DeviceDeployment,
  FleetServiceServer,
  GetDeviceDeploymentRequest,
  GetDeviceDeploymentResponse,
  GetDeviceProfileRequest,
  GetDeviceProfileResponse,
  ReprofileDeviceRequest,
  ReprofileDeviceResponse,
} from "@edgefleet/protocol/grpc";
import type { handleUnaryCall, Metadata, ServerUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { AssignmentService, DeploymentView } from "../services/assignment-service";
import type { Authenticator, Principal } from "../services/auth-service";
import type { PlanService } from "../services/plan-service";
import type { ProfileService } from "../services/profile-service";
import { toServiceError } from "./errors";

export interface FleetServiceDeps {
  auth: Authenticator;
  profiles: ProfileService;
  plans: PlanService;
  assignments: AssignmentService;
  logger: Logger;
}

function unary<Req, Res>(
  deps: FleetServiceDeps,
  method: string,
  handler: (req: Req, principal: Principal) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback) => {
    deps.auth
      .authenticate(bearer(call.metadata))
      .then((principal) => handler(call.request, principal))
      .then((res) => callback(null, res))
      .catch((err) => callback(toServiceError(err, deps.logger, method)));
  };
}

function bearer(metadata: Metadata): string | undefined {
  const value = metadata.get("authorization")[0];
  const text = typeof value === "string" ? value : value?.toString();
  return text?.startsWith("Bearer ") ? text.slice("Bearer ".length).trim() : undefined;
}

export function fleetServiceImpl(deps: FleetServiceDeps): FleetServiceServer {
  return {
    assignVariant: unary<AssignVariantRequest, AssignVariantResponse>(
      deps,
      "AssignVariant",
      async (req, principal) => {
        // proto3 zero values mean "not set": the REST defaults apply.
        const o = req.options;
        const view = await deps.assignments.assign(principal, req.deviceId, {
          variantId: req.variantId === "" ? null : req.variantId,
          options: {
            ...(o?.threads ? { threads: o.threads } : {}),
            ...(o?.maxBatch ? { maxBatch: o.maxBatch } : {}),
            ...(o?.maxDelayMs ? { maxDelayMs: o.maxDelayMs } : {}),
            ...(o?.queueLimit ? { queueLimit: o.queueLimit } : {}),
          },
        });
        return { deployment: deploymentMessage(view) };
      },
    ),
    getDeviceDeployment: unary<GetDeviceDeploymentRequest, GetDeviceDeploymentResponse>(
      deps,
      "GetDeviceDeployment",
      async (req) => ({ deployment: deploymentMessage(await deps.assignments.get(req.deviceId)) }),
    ),
    getDeviceProfile: unary<GetDeviceProfileRequest, GetDeviceProfileResponse>(
      deps,
      "GetDeviceProfile",
      async (req) => {
        const p = await deps.profiles.latest(req.deviceId);
        return {
          deviceId: p.deviceId,
          measuredAt: p.measuredAt,
          threads: p.threads,
          simulated: p.simulated,
          deviceClass: p.deviceClass ?? "",
          fp32Gflops: p.fp32Gflops,
          int8Gops: p.int8Gops,
          memBandwidthGbs: p.memBandwidthGBs,
          nativeKernels: p.nativeKernels,
          profile: p.profile as Record<string, unknown>,
        };
      },
    ),
    reprofileDevice: unary<ReprofileDeviceRequest, ReprofileDeviceResponse>(
      deps,
      "ReprofileDevice",
      (req, principal) => deps.profiles.requestReprofile(principal, req.deviceId),
    ),
    createPlan: unary<CreatePlanRequest, CreatePlanResponse>(
      deps,
      "CreatePlan",
      async (req, principal) => {
        // proto3 zero values mean "not set": leave them out so the REST defaults apply.
        const s = req.selector;
        const p = req.policy;
        const plan = await deps.plans.createPlan(principal, {
          modelId: req.modelId,
          selector: {
            ...(s?.deviceIds.length ? { deviceIds: s.deviceIds } : {}),
            ...(s && Object.keys(s.labels).length ? { labels: s.labels } : {}),
            ...(s?.status ? { status: s.status } : {}),
            ...(s?.deviceClass ? { deviceClass: s.deviceClass } : {}),
          },
          policy: {
            latencySloMs: p?.latencySloMs,
            ...(p?.batch ? { batch: p.batch } : {}),
            ...(p?.accuracyFloor ? { accuracyFloor: p.accuracyFloor } : {}),
            ...(p?.objective ? { objective: p.objective } : {}),
          },
          ...(req.dryRun !== undefined ? { dryRun: req.dryRun } : {}),
        });
        return {
          planId: plan.planId,
          decisions: plan.decisions.map((d) => ({
            deviceId: d.deviceId,
            deviceName: d.deviceName,
            ok: d.ok,
            variantId: d.variantId ?? "",
            variantName: d.variantName ?? "",
            predictedLatencyMs: d.predictedLatencyMs ?? 0,
            predictedMemoryBytes: d.predictedMemoryBytes ?? 0,
            reasons: d.reasons,
          })),
        };
      },
    ),
  };
}

function deploymentMessage(v: DeploymentView): DeviceDeployment {
  const d = v.desired;
  const r = v.reported;
  return {
    deviceId: v.deviceId,
    desired: d
      ? {
          generation: d.generation,
          variantId: d.variantId ?? "",
          variantName: d.variantName ?? "",
          modelId: d.model?.id ?? "",
          digest: d.digest ?? "",
          assignedBy: d.assignedBy,
          updatedAt: d.updatedAt,
        }
      : undefined,
    reported: r
      ? {
          generation: r.generation,
          phase: r.phase,
          step: r.step ?? "",
          servingGeneration: r.serving?.generation ?? 0,
          servingVariantId: r.serving?.variantId ?? "",
          servingDigest: r.serving?.digest ?? "",
          error: r.error ?? "",
          sentAt: r.sentAt,
        }
      : undefined,
    inSync: v.inSync,
  };
}
