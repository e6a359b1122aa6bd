// Device profiles: stored as agents report them, read by operators and the planner, and
// re-measured on request through the device's rpc subject.
import type { DeviceProfile, Repos } from "@edgefleet/db";
import {
  type DeviceProfileJson,
  decodeJson,
  encodeJson,
  reprofileReplySchema,
  subjects,
} from "@edgefleet/protocol";
import type { ProfileView } from "@edgefleet/protocol/rest";
import { NotFoundError, UnavailableError } from "../errors";
import type { FleetEvents } from "../fleet-events";
import { type Principal, requireRole } from "./auth-service";

export type { ProfileView };

/** How the control plane reaches a device: NATS request/reply in production and tests. */
export interface DeviceRpc {
  request(
    subject: string,
    payload: Uint8Array,
    timeoutMs: number,
    headers?: Record<string, string>,
  ): Promise<Uint8Array>;
}

export class ProfileService {
  constructor(
    private readonly deps: {
      repos: Pick<Repos, "profiles" | "devices" | "audit">;
      rpc: DeviceRpc;
      events: FleetEvents;
    },
  ) {}

  async record(deviceId: string, agentVersion: string, p: DeviceProfileJson): Promise<void> {
    const f = p.figures;
    const stored = await this.deps.repos.profiles.add(deviceId, {
      measuredAt: new Date(p.measuredAt),
      agentVersion,
      threads: p.threads,
      simulated: p.simulated,
      deviceClass: p.deviceClass || null,
      fp32Gflops: f.kernels.fp32.opsPerSecond.median / 1e9,
      int8Gops: f.kernels.int8.opsPerSecond.median / 1e9,
      int4Gops:
        f.kernels.int4.status === "unsupported" ? null : f.kernels.int4.opsPerSecond.median / 1e9,
      memBandwidthGBs: f.memoryBandwidthBytesPerSecond.median / 1e9,
      loadTimeMs: f.modelLoadMs.median,
      kernels: Object.entries(f.kernels)
        .filter(([, k]) => k.status === "native")
        .map(([name]) => name),
      raw: p as unknown as Record<string, never>,
    });
    this.deps.events.publish({
      type: "device.profiled",
      deviceId,
      at: stored.measuredAt.toISOString(),
    });
  }

  async latest(deviceId: string): Promise<ProfileView> {
    const device = await this.deps.repos.devices.findById(deviceId);
    if (!device) throw new NotFoundError(`device ${deviceId} not found`);
    const profile = await this.deps.repos.profiles.latest(deviceId);
    if (!profile) throw new NotFoundError(`device ${deviceId} has not reported a profile yet`);
    return profileView(profile);
  }

  /** Asks the device to measure itself again; the profile arrives later as an event. */
  async requestReprofile(principal: Principal, deviceId: string): Promise<{ accepted: boolean }> {
    requireRole(principal, "operator");
    const device = await this.deps.repos.devices.findById(deviceId);
    if (!device) throw new NotFoundError(`device ${deviceId} not found`);
    let reply: Uint8Array;
    try {
      reply = await this.deps.rpc.request(subjects.rpc(deviceId, "profile"), encodeJson({}), 3000);
    } catch {
      throw new UnavailableError(`device ${deviceId} did not answer: it is not connected`);
    }
    const parsed = decodeJson(reprofileReplySchema, reply);
    await this.deps.repos.audit.append({
      actor: `apitoken:${principal.tokenId}`,
      action: "device.reprofile_requested",
      subjectType: "device",
      subjectId: deviceId,
    });
    return { accepted: parsed.accepted };
  }
}

export function profileView(p: DeviceProfile): ProfileView {
  return {
    id: p.id,
    deviceId: p.deviceId,
    measuredAt: p.measuredAt.toISOString(),
    agentVersion: p.agentVersion,
    threads: p.threads,
    simulated: p.simulated,
    deviceClass: p.deviceClass,
    fp32Gflops: p.fp32Gflops,
    int8Gops: p.int8Gops,
    int4Gops: p.int4Gops,
    memBandwidthGBs: p.memBandwidthGBs,
    loadTimeMs: p.loadTimeMs,
    nativeKernels: p.kernels,
    profile: p.raw,
  };
}
