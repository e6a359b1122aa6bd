// Devices as operators see them, and what agents report about themselves (heartbeats, facts).

import { InvalidCursorError, type Repos } from "@edgefleet/db";
import type { DeviceEvent, FleetEvent, StateReport } from "@edgefleet/protocol";
import type { DeviceDetailView, DeviceLabelsPatch, DevicePageView } from "@edgefleet/protocol/rest";
import { z } from "zod";
import { InvalidArgumentError, NotFoundError } from "../errors";
import type { FleetEvents } from "../fleet-events";
import { type AssignmentService, deploymentView } from "./assignment-service";
import { type Principal, requireRole } from "./auth-service";
import { factColumns } from "./enrollment-service";
import type { ProfileService } from "./profile-service";
import { parseInput } from "./validation";
import { type DeviceView, deviceView } from "./views";

export type { DeviceDetailView, DevicePageView };

/** `label=key=value`, repeatable (every pair must match): what the console and CLI send. */
const labelPair = z
  .string()
  .max(321)
  .regex(/^[^=]{1,64}=.{0,256}$/, "must be key=value (key 1..64 characters, value up to 256)");

export const listDevicesQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(200).optional(),
    status: z.enum(["enrolled", "online", "offline", "decommissioned"]).optional(),
    deviceClass: z.string().min(1).max(64).optional(),
    label: z
      .union([labelPair, z.array(labelPair).max(20)])
      .optional()
      .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])),
    variantId: z.string().uuid("must be a variant id (uuid)").optional(),
  })
  .transform(({ label, variantId, ...rest }) => ({
    ...rest,
    servingVariantId: variantId,
    labels: Object.fromEntries(
      label.map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
    ),
  }));

/** A label key: what `label=key=value` filters and `key=value` arguments can name. */
const LABEL_KEY_RULE = "must be 1..64 characters without '=' or whitespace";
const labelKey = z.string().regex(/^[^=\s]{1,64}$/, LABEL_KEY_RULE);

export const patchLabelsSchema = z
  .object({
    set: z
      .record(labelKey, z.string().max(256, "must be at most 256 characters"), {
        error: (iss) => (iss.code === "invalid_key" ? `label key ${LABEL_KEY_RULE}` : undefined),
      })
      .default({}),
    remove: z.array(labelKey).max(64).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (Object.keys(p.set).length > 64) {
      ctx.addIssue({ code: "custom", path: ["set"], message: "at most 64 labels at once" });
    }
    if (Object.keys(p.set).length === 0 && p.remove.length === 0) {
      ctx.addIssue({ code: "custom", path: ["set"], message: "set or remove at least one label" });
    }
    const both = p.remove.find((k) => Object.hasOwn(p.set, k));
    if (both !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["remove"],
        message: `cannot both set and remove label ${both}`,
      });
    }
  }) satisfies z.ZodType<Required<DeviceLabelsPatch>, unknown>;

export interface DeviceServiceDeps {
  repos: Pick<Repos, "devices" | "dispatch" | "audit">;
  /** Where reported profiles go. */
  profiles: Pick<ProfileService, "record">;
  /** Where state reports go. */
  assignments: Pick<AssignmentService, "recordReport" | "recordReports">;
  events: FleetEvents;
  heartbeatTimeoutMs: number;
  now?: () => Date;
}

export class DeviceService {
  private readonly now: () => Date;

  constructor(private readonly deps: DeviceServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async list(rawQuery: unknown): Promise<DevicePageView> {
    const query = parseInput(listDevicesQuerySchema, rawQuery);
    const page = await this.deps.repos.devices.list(query).catch((err) => {
      if (err instanceof InvalidCursorError) {
        throw new InvalidArgumentError("cursor", "is not a nextCursor from an earlier page");
      }
      throw err;
    });
    const states = await this.deps.repos.dispatch.statesOf(page.items.map((d) => d.id));
    const items = page.items.map((d) => ({
      ...deviceView(d),
      deployment: deploymentView(
        d.id,
        states.assignments.get(d.id) ?? null,
        states.reported.get(d.id) ?? null,
      ),
    }));
    return { items, total: page.total, nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<DeviceDetailView> {
    const device = await this.deps.repos.devices.findById(id);
    if (!device) throw new NotFoundError(`device ${id} not found`);
    const [assignment, reported] = await Promise.all([
      this.deps.repos.dispatch.assignment(id),
      this.deps.repos.dispatch.reported(id),
    ]);
    return { ...deviceView(device), deployment: deploymentView(id, assignment, reported) };
  }

  /** PATCH labels: sets and removes some, keeps the others; audited, announced on the stream. */
  async patchLabels(principal: Principal, id: string, body: unknown): Promise<DeviceDetailView> {
    requireRole(principal, "operator");
    const patch = parseInput(patchLabelsSchema, body ?? {});
    const updated = await this.deps.repos.devices.patchLabels(id, patch);
    if (!updated) throw new NotFoundError(`device ${id} not found`);
    await this.deps.repos.audit.append({
      actor: `apitoken:${principal.tokenId}`,
      action: "device.labels_changed",
      subjectType: "device",
      subjectId: id,
      data: { set: patch.set, remove: patch.remove },
    });
    const view = deviceView(updated);
    this.emit("device.updated", id, view);
    const [assignment, reported] = await Promise.all([
      this.deps.repos.dispatch.assignment(id),
      this.deps.repos.dispatch.reported(id),
    ]);
    return { ...view, deployment: deploymentView(id, assignment, reported) };
  }

  /** A heartbeat from an unknown device is dropped: its JWT outlived its row. */
  /** Heartbeats of many devices (gathered for a moment by the listener): one database write. */
  async recordHeartbeats(deviceIds: readonly string[]): Promise<void> {
    const seen = await this.deps.repos.devices.markSeenMany(deviceIds, this.now());
    for (const [id, s] of seen) if (s.wasOffline) this.emit("device.online", id);
  }

  /** State reports of many devices (gathered for a moment by the listener): one write. */
  recordReports(reports: { deviceId: string; report: StateReport }[]): Promise<void> {
    return this.deps.assignments.recordReports(reports);
  }

  async recordEvent(deviceId: string, event: DeviceEvent): Promise<void> {
    if (event.type === "facts") {
      const updated = await this.deps.repos.devices.updateFacts(
        deviceId,
        factColumns(event.facts, event.agentVersion),
      );
      if (updated) this.emit("device.updated", deviceId, deviceView(updated));
    } else if (event.type === "profile") {
      await this.deps.profiles.record(deviceId, event.agentVersion, event.profile);
    } else if (event.type === "state") {
      await this.deps.assignments.recordReport(deviceId, event);
    }
  }

  /** Turns devices whose last heartbeat is older than the timeout offline. */
  async sweepOffline(): Promise<string[]> {
    const cutoff = new Date(this.now().getTime() - this.deps.heartbeatTimeoutMs);
    const ids = await this.deps.repos.devices.markOfflineOlderThan(cutoff);
    for (const id of ids) this.emit("device.offline", id);
    return ids;
  }

  private emit(type: FleetEvent["type"], deviceId: string, device?: DeviceView) {
    this.deps.events.publish({
      type,
      deviceId,
      at: this.now().toISOString(),
      ...(device ? { device: device as unknown as Record<string, unknown> } : {}),
    });
  }
}
