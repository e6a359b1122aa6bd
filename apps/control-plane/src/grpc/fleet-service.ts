// gRPC FleetService: the operator API's profile and planning calls, over the same services as REST.

import type {
  AssignVariantRequest,
  AssignVariantResponse,
  ControlRolloutRequest,
  ControlRolloutResponse,
  CreatePlanRequest,
  CreatePlanResponse,
  CreateRolloutRequest,
  CreateRolloutResponse,
  DeviceDeployment,
  FleetServiceServer,
  GetDeviceDeploymentRequest,
  GetDeviceDeploymentResponse,
  GetDeviceProfileRequest,
  GetDeviceProfileResponse,
  GetRolloutRequest,
  GetRolloutResponse,
  ListRolloutsRequest,
  ListRolloutsResponse,
  ReprofileDeviceRequest,
  ReprofileDeviceResponse,
  Rollout,
  WatchRolloutRequest,
  WatchRolloutResponse,
} from "@edgefleet/protocol/grpc";
import type {
  handleServerStreamingCall,
  handleUnaryCall,
  Metadata,
  ServerUnaryCall,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { InvalidArgumentError, UnauthenticatedError } from "../errors";
import type { FleetEvents } from "../fleet-events";
import type { AssignmentService, DeploymentView } from "../services/assignment-service";
import type { Authenticator, Principal } from "../services/auth-service";
import type { PlanService } from "../services/plan-service";
import type { ProfileService } from "../services/profile-service";
import type { RolloutService, RolloutView } from "../services/rollout-service";
import { type TokenRevocations, watchTokenEnd } from "../token-revocations";
import { failStream, toServiceError } from "./errors";

export interface FleetServiceDeps {
  auth: Authenticator;
  profiles: ProfileService;
  plans: PlanService;
  assignments: AssignmentService;
  rollouts: RolloutService;
  events: FleetEvents;
  /** Revocations end this token's open watches (issue 11). */
  revocations?: TokenRevocations;
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

export function bearer(metadata: Metadata): string | undefined {
  const value = metadata.get("authorization")[0];
  const text = typeof value === "string" ? value : value?.toString();
  return text?.startsWith("Bearer ") ? text.slice("Bearer ".length).trim() : undefined;
}

export function fleetServiceImpl(deps: FleetServiceDeps): FleetServiceServer {
  return {
    createRollout: unary<CreateRolloutRequest, CreateRolloutResponse>(
      deps,
      "CreateRollout",
      async (req, principal) => {
        const out = await deps.rollouts.create(principal, req.spec ?? {});
        if ("dryRun" in out) {
          return { rollout: undefined, dryRun: out as unknown as Record<string, unknown> };
        }
        return { rollout: rolloutMessage(out), dryRun: undefined };
      },
    ),
    getRollout: unary<GetRolloutRequest, GetRolloutResponse>(deps, "GetRollout", async (req) => ({
      rollout: rolloutMessage(await deps.rollouts.get(req.rolloutId)),
    })),
    listRollouts: unary<ListRolloutsRequest, ListRolloutsResponse>(
      deps,
      "ListRollouts",
      async () => {
        const { items } = await deps.rollouts.list();
        return {
          rollouts: items.map((r) => ({
            id: r.id,
            name: r.name,
            modelId: r.modelId,
            state: r.state,
            currentWave: r.currentWave,
            haltReason: r.haltReason ?? "",
            view: undefined,
          })),
        };
      },
    ),
    controlRollout: unary<ControlRolloutRequest, ControlRolloutResponse>(
      deps,
      "ControlRollout",
      async (req, principal) => {
        const actions = ["start", "pause", "resume", "abort", "rollback"] as const;
        const action = actions.find((a) => a === req.action);
        if (!action) {
          throw new InvalidArgumentError("action", `must be one of ${actions.join(", ")}`);
        }
        const view = await deps.rollouts.control(principal, req.rolloutId, action, {
          reason: req.reason,
        });
        return { rollout: rolloutMessage(view) };
      },
    ),
    watchRollout: watchRollout(deps),
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

const TERMINAL = new Set(["completed", "aborted", "rolled_back"]);

/** The rollout now, then each change pushed by the controller, until it ends or the caller goes. */
function watchRollout(
  deps: FleetServiceDeps,
): handleServerStreamingCall<WatchRolloutRequest, WatchRolloutResponse> {
  return (call) => {
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
      failStream(call, err, deps.logger, "WatchRollout");
    };
    call.on("cancelled", cleanup);
    deps.auth
      .authenticate(bearer(call.metadata))
      .then((principal) => {
        stopTokenWatch = endOnTokenEnd(principal, deps.revocations, fail);
        return deps.rollouts.get(call.request.rolloutId);
      })
      .then((view) => {
        call.write({ rollout: rolloutMessage(view) });
        if (TERMINAL.has(view.state)) return end();
        unsubscribe = deps.events.subscribe((e) => {
          if (e.type !== "rollout.updated" || e.rolloutId !== view.id) return;
          const next = e.data as unknown as RolloutView;
          call.write({ rollout: rolloutMessage(next) });
          if (TERMINAL.has(next.state)) end();
        });
      })
      .catch(fail);
  };
}

/** A watch of a token that is revoked or expires ends at once with UNAUTHENTICATED. */
export function endOnTokenEnd(
  principal: Principal,
  revocations: TokenRevocations | undefined,
  fail: (err: UnauthenticatedError) => void,
): () => void {
  return watchTokenEnd(principal, revocations, (reason) =>
    fail(new UnauthenticatedError(`the bearer token was ${reason}: the watch is ended`)),
  );
}

function rolloutMessage(v: RolloutView): Rollout {
  return {
    id: v.id,
    name: v.name,
    modelId: v.modelId,
    state: v.state,
    currentWave: v.currentWave,
    haltReason: v.haltReason ?? "",
    view: v as unknown as Record<string, unknown>,
  };
}
