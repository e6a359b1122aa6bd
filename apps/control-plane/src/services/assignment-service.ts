// Desired state per device: which variant it should run, with its signed manifest. Written to
// the KV bucket devices read (then to Postgres, in that order, see DispatchRepo), announced on
// the device's rpc subject; devices report back on their events subject. Rollouts will write
// through `assign` too.
import type { DeviceAssignment, DeviceReportedState, Fence, Repos } from "@edgefleet/db";
import {
  type Assignment,
  artifactManifestSchema,
  type DesiredState,
  type RuntimeOptions,
  runtimeOptionsSchema,
  type StateReport,
} from "@edgefleet/protocol";
import type { DeploymentView, DesiredView, ReportedView } from "@edgefleet/protocol/rest";
import { z } from "zod";
import { ConflictError, NotFoundError, StateConflictError } from "../errors";
import type { FleetEvents } from "../fleet-events";
import { type Principal, requireRole } from "./auth-service";
import type { DesiredStateStore, DeviceNotifier } from "./dispatch-ports";
import { parseInput } from "./validation";

export type { DeploymentView, DesiredView, ReportedView };

export const assignSchema = z.object({
  /** null: run nothing (the device unloads what it serves). */
  variantId: z.string().uuid("must be a variant id (uuid)").nullable(),
  options: runtimeOptionsSchema.partial().default({}),
});
export type AssignInput = z.input<typeof assignSchema>;

export interface AssignmentWrite {
  deviceId: string;
  variantId: string | null;
  assignment: Assignment | null;
  /** `apitoken:<id>`, `rollout:<id>`, `retarget`. */
  actor: string;
  rolloutId?: string | null;
}

export interface AssignmentServiceDeps {
  repos: Pick<Repos, "devices" | "catalog" | "dispatch" | "audit">;
  desired: DesiredStateStore;
  notifier: DeviceNotifier;
  events: FleetEvents;
  now?: () => Date;
}

export class AssignmentService {
  private readonly now: () => Date;

  constructor(private readonly deps: AssignmentServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async assign(principal: Principal, deviceId: string, body: unknown): Promise<DeploymentView> {
    requireRole(principal, "operator");
    const input = parseInput(assignSchema, body);
    const device = await this.deps.repos.devices.findById(deviceId);
    if (!device) throw new NotFoundError(`device ${deviceId} not found`);
    if (device.status === "decommissioned") {
      throw new StateConflictError(`device ${deviceId} is decommissioned: nothing can be assigned`);
    }
    const assignment = input.variantId
      ? await this.signedAssignment(input.variantId, input.options)
      : null;
    const actor = `apitoken:${principal.tokenId}`;
    const row = await this.write({ deviceId, variantId: input.variantId, assignment, actor });
    await this.deps.repos.audit.append({
      actor,
      action: "device.assigned",
      subjectType: "device",
      subjectId: deviceId,
      data: { generation: row.generation, variantId: input.variantId },
    });
    const view = deploymentView(deviceId, row, await this.deps.repos.dispatch.reported(deviceId));
    this.deps.events.publish({
      type: "device.assigned",
      deviceId,
      at: this.now().toISOString(),
      data: view as unknown as Record<string, unknown>,
    });
    return view;
  }

  /**
   * Writes a device's next desired state (KV, then Postgres) and tells the device: the one path
   * every writer takes (REST, rollouts, re-targeting). A controller passes its lease so a
   * controller that lost it cannot write.
   */
  async write(req: AssignmentWrite, fence?: Fence): Promise<DeviceAssignment> {
    const [row] = await this.writeMany([req], fence);
    return row;
  }

  /** `write` for many devices at once (one transaction, KV writes in parallel): rollouts. */
  async writeMany(reqs: AssignmentWrite[], fence?: Fence): Promise<DeviceAssignment[]> {
    const rows = await this.deps.repos.dispatch.writeAssignments(
      reqs.map((r) => ({ deviceId: r.deviceId, variantId: r.variantId, assignedBy: r.actor })),
      async (stored) => {
        const updatedAt = this.now().toISOString();
        const out = new Map<string, { generation: number; desired: Record<string, never> }>();
        await Promise.all(
          reqs.map(async (req) => {
            // The KV may be ahead of Postgres (a write whose commit was lost): never reuse a
            // generation a device may have seen.
            const current = await this.deps.desired.get(req.deviceId);
            const generation =
              Math.max(stored.get(req.deviceId) ?? 0, current?.generation ?? 0) + 1;
            const desired: DesiredState = {
              version: 1,
              deviceId: req.deviceId,
              generation,
              updatedAt,
              assignment: req.assignment,
              rolloutId: req.rolloutId ?? null,
            };
            await this.deps.desired.put(req.deviceId, desired);
            out.set(req.deviceId, {
              generation,
              desired: desired as unknown as Record<string, never>,
            });
          }),
        );
        return out;
      },
      fence,
    );
    this.announce(rows);
    return rows;
  }

  /**
   * Tells devices again that their desired state changed. A controller that died between its
   * KV writes and their notices left devices unaware of what is already theirs; its successor
   * calls this for what it adopts.
   */
  announce(rows: ReadonlyArray<{ deviceId: string; generation: number }>): void {
    for (const row of rows) this.deps.notifier.desiredChanged(row.deviceId, row.generation);
  }

  async get(deviceId: string): Promise<DeploymentView> {
    const device = await this.deps.repos.devices.findById(deviceId);
    if (!device) throw new NotFoundError(`device ${deviceId} not found`);
    const [assignment, reported] = await Promise.all([
      this.deps.repos.dispatch.assignment(deviceId),
      this.deps.repos.dispatch.reported(deviceId),
    ]);
    return deploymentView(deviceId, assignment, reported);
  }

  /** A device's state report, stored unless a newer one is; pushed to live clients. */
  async recordReport(deviceId: string, report: StateReport, receivedAt = this.now()) {
    await this.recordReports([{ deviceId, report, receivedAt }]);
  }

  /** Many reports in one statement (a device's newest counts); stored ones go to live clients. */
  async recordReports(
    items: { deviceId: string; report: StateReport; receivedAt?: Date }[],
  ): Promise<void> {
    const now = this.now();
    const stored = await this.deps.repos.dispatch.recordReports(
      items.map(({ deviceId, report, receivedAt }) => ({
        deviceId,
        generation: report.generation,
        phase: report.phase,
        step: report.step ?? null,
        servingGeneration: report.serving?.generation ?? null,
        servingVariantId: report.serving?.variantId ?? null,
        servingDigest: report.serving?.digest ?? null,
        error: report.error ?? null,
        canaryDigest: report.canary?.digest ?? null,
        canarySamples: report.canary?.samples ?? null,
        canaryCorrect: report.canary?.correct ?? null,
        sentAt: new Date(report.sentAt),
        receivedAt: receivedAt ?? now,
      })),
    );
    if (stored.length === 0) return;
    const assignments = await this.deps.repos.dispatch.assignmentsOf(stored.map((r) => r.deviceId));
    for (const row of stored) {
      const view = deploymentView(row.deviceId, assignments.get(row.deviceId) ?? null, row);
      this.deps.events.publish({
        type: "device.state",
        deviceId: row.deviceId,
        at: row.receivedAt.toISOString(),
        data: view as unknown as Record<string, unknown>,
      });
    }
  }

  /** A variant's signed manifest with runtime options, ready to write as an assignment. */
  async signedAssignment(
    variantId: string,
    options: Partial<RuntimeOptions> = {},
    quality: Pick<Assignment, "shadow" | "canary"> = { shadow: null, canary: null },
  ): Promise<Assignment> {
    const variant = await this.deps.repos.catalog.findVariant(variantId);
    if (!variant) throw new NotFoundError(`variant ${variantId} not found`);
    const manifest = artifactManifestSchema.safeParse(variant.manifest);
    if (!manifest.success || !variant.manifestSignature) {
      throw new ConflictError(
        `variant ${variant.name} has no signed manifest (imported before artifacts were uploaded?): import the model again`,
      );
    }
    return {
      manifest: manifest.data,
      signature: variant.manifestSignature,
      options: runtimeOptionsSchema.parse(options),
      ...quality,
    };
  }
}

export function deploymentView(
  deviceId: string,
  a: DeviceAssignment | null,
  r: DeviceReportedState | null,
): DeploymentView {
  const desired = a && a.generation > 0 ? desiredView(a) : null;
  const reported: ReportedView | null = r
    ? {
        generation: r.generation,
        phase: r.phase,
        step: r.step,
        serving:
          r.servingGeneration === null
            ? null
            : {
                generation: r.servingGeneration,
                variantId: r.servingVariantId,
                digest: r.servingDigest,
              },
        error: r.error,
        canary:
          r.canaryDigest && r.canarySamples !== null && r.canaryCorrect !== null
            ? { digest: r.canaryDigest, samples: r.canarySamples, correct: r.canaryCorrect }
            : null,
        sentAt: r.sentAt.toISOString(),
        receivedAt: r.receivedAt.toISOString(),
      }
    : null;
  const inSync =
    desired !== null &&
    reported !== null &&
    reported.phase === "applied" &&
    reported.generation === desired.generation;
  return { deviceId, desired, reported, inSync };
}

/**
 * What a view shows of a stored desired state (written by this control plane, so read, not
 * validated in full: a rollout's reports build one view each, by the thousand).
 */
const desiredSummarySchema = z.object({
  assignment: z
    .object({
      manifest: z.object({
        variant: z.object({ name: z.string() }),
        model: z.object({ id: z.string(), name: z.string(), version: z.string() }),
        digest: z.string(),
      }),
      options: z.unknown(),
    })
    .nullable(),
});

function desiredView(a: DeviceAssignment): DesiredView {
  const parsed = desiredSummarySchema.safeParse(a.desired);
  const m = parsed.success ? parsed.data.assignment?.manifest : undefined;
  return {
    generation: a.generation,
    variantId: a.variantId,
    variantName: m?.variant.name ?? null,
    model: m?.model ?? null,
    digest: m?.digest ?? null,
    options: parsed.success ? (parsed.data.assignment?.options ?? null) : null,
    assignedBy: a.assignedBy,
    updatedAt: a.updatedAt.toISOString(),
  };
}
