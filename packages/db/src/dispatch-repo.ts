// Desired and reported state per device. Desired state is written by the control plane (and
// mirrored into the KV bucket devices read); reported state arrives from devices, newest wins.
import { isUuid } from "./client";
import type {
  DeviceAssignment,
  DeviceReportedState,
  Prisma,
  PrismaClient,
} from "./generated/prisma/client";
import { checkFence, type Fence } from "./rollout-repo";

export interface NewAssignment {
  deviceId: string;
  variantId: string | null;
  /** The DesiredState as devices read it, generation included. */
  desired: Prisma.InputJsonObject;
  /** `apitoken:<id>`, `rollout:<id>`, `system`. */
  assignedBy: string;
}

export interface ReportedStateInput {
  generation: number;
  phase: string;
  step?: string | null;
  servingGeneration?: number | null;
  servingVariantId?: string | null;
  servingDigest?: string | null;
  error?: string | null;
  canaryDigest?: string | null;
  canarySamples?: number | null;
  canaryCorrect?: number | null;
  sentAt: Date;
  receivedAt: Date;
}

export interface DispatchRepo {
  assignment(deviceId: string): Promise<DeviceAssignment | null>;
  /**
   * Writes the next generation of a device's desired state, serialised per device: inside one
   * transaction holding the device's assignment row locked, `publish(storedGeneration)` (0 when
   * none) writes the new desired state where devices read it and returns it; only if that
   * succeeds is it stored here.
   */
  writeAssignment(
    input: Omit<NewAssignment, "desired">,
    publish: (
      storedGeneration: number,
    ) => Promise<{ generation: number; desired: Prisma.InputJsonObject }>,
    /** A controller's lease: checked in the same transaction, before anything is published. */
    fence?: Fence,
  ): Promise<DeviceAssignment>;
  /**
   * `writeAssignment` for many devices in one transaction (rollouts): every row locked, then
   * `publish(storedGenerations)` writes them all where devices read them, then one statement
   * stores them. All or nothing here; what `publish` wrote before failing is ahead of Postgres,
   * which the next write's generation accounts for. Distinct device ids.
   */
  writeAssignments(
    inputs: Omit<NewAssignment, "desired">[],
    publish: (
      storedGenerations: Map<string, number>,
    ) => Promise<Map<string, { generation: number; desired: Prisma.InputJsonObject }>>,
    fence?: Fence,
  ): Promise<DeviceAssignment[]>;
  reported(deviceId: string): Promise<DeviceReportedState | null>;
  /**
   * Stores a state report unless a newer one is stored: newer means a higher generation, or the
   * same generation sent later. Returns the stored row, or null when the report was stale or the
   * device does not exist.
   */
  recordReport(deviceId: string, report: ReportedStateInput): Promise<DeviceReportedState | null>;
  countByPhase(): Promise<Record<string, number>>;
  /** Desired and reported rows of many devices (for device lists). */
  statesOf(deviceIds: string[]): Promise<{
    assignments: Map<string, DeviceAssignment>;
    reported: Map<string, DeviceReportedState>;
  }>;
}

export class PrismaDispatchRepo implements DispatchRepo {
  constructor(private readonly db: PrismaClient) {}

  assignment(deviceId: string): Promise<DeviceAssignment | null> {
    if (!isUuid(deviceId)) return Promise.resolve(null);
    return this.db.deviceAssignment.findUnique({ where: { deviceId } });
  }

  async writeAssignment(
    input: Omit<NewAssignment, "desired">,
    publish: Parameters<DispatchRepo["writeAssignment"]>[1],
    fence?: Fence,
  ): Promise<DeviceAssignment> {
    const [row] = await this.writeAssignments(
      [input],
      async (stored) => {
        const out = await publish(stored.get(input.deviceId) ?? 0);
        return new Map([[input.deviceId, out]]);
      },
      fence,
    );
    return row;
  }

  async writeAssignments(
    inputs: Omit<NewAssignment, "desired">[],
    publish: Parameters<DispatchRepo["writeAssignments"]>[1],
    fence?: Fence,
  ): Promise<DeviceAssignment[]> {
    if (inputs.length === 0) return [];
    const ids = inputs.map((i) => i.deviceId);
    if (new Set(ids).size !== ids.length) throw new Error("writeAssignments: duplicate device ids");
    return this.db.$transaction(
      async (tx) => {
        if (fence) await checkFence(tx, fence);
        // Rows exist from the first assignment on; create them (generation 0) so that first
        // assignments racing each other still queue on one row lock. Locked in id order, so two
        // batches sharing devices cannot deadlock.
        await tx.$executeRaw`
          INSERT INTO "DeviceAssignment" ("deviceId", "generation", "desired", "assignedBy", "updatedAt")
          SELECT d, 0, '{}'::jsonb, 'system', now() FROM unnest(${ids}::uuid[]) AS d
          ON CONFLICT ("deviceId") DO NOTHING`;
        const locked = await tx.$queryRaw<{ deviceId: string; generation: number }[]>`
          SELECT "deviceId"::text AS "deviceId", "generation" FROM "DeviceAssignment"
          WHERE "deviceId" = ANY(${ids}::uuid[]) ORDER BY "deviceId" FOR UPDATE`;
        const published = await publish(new Map(locked.map((r) => [r.deviceId, r.generation])));
        const rows = inputs.map((i) => {
          const p = published.get(i.deviceId);
          if (!p) throw new Error(`writeAssignments: nothing published for ${i.deviceId}`);
          return { ...i, ...p };
        });
        return tx.$queryRaw<DeviceAssignment[]>`
          UPDATE "DeviceAssignment" AS a SET
            "generation" = v.generation, "variantId" = v."variantId", "desired" = v.desired,
            "assignedBy" = v."assignedBy", "updatedAt" = now()
          FROM unnest(
            ${rows.map((r) => r.deviceId)}::uuid[], ${rows.map((r) => r.generation)}::int[],
            ${rows.map((r) => r.variantId)}::uuid[], ${rows.map((r) => JSON.stringify(r.desired))}::jsonb[],
            ${rows.map((r) => r.assignedBy)}::text[]
          ) AS v("deviceId", generation, "variantId", desired, "assignedBy")
          WHERE a."deviceId" = v."deviceId"
          RETURNING a.*`;
      },
      { timeout: 30_000 },
    );
  }

  reported(deviceId: string): Promise<DeviceReportedState | null> {
    if (!isUuid(deviceId)) return Promise.resolve(null);
    return this.db.deviceReportedState.findUnique({ where: { deviceId } });
  }

  async recordReport(deviceId: string, r: ReportedStateInput): Promise<DeviceReportedState | null> {
    if (!isUuid(deviceId)) return null;
    const servingVariantId =
      r.servingVariantId && isUuid(r.servingVariantId) ? r.servingVariantId : null;
    // One statement: insert, or overwrite only an older report; a stale one changes nothing.
    const rows = await this.db.$queryRaw<DeviceReportedState[]>`
      INSERT INTO "DeviceReportedState" AS s
        ("deviceId", "generation", "phase", "step", "servingGeneration", "servingVariantId",
         "servingDigest", "error", "canaryDigest", "canarySamples", "canaryCorrect",
         "sentAt", "receivedAt")
      SELECT ${deviceId}::uuid, ${r.generation}, ${r.phase}, ${r.step ?? null},
             ${r.servingGeneration ?? null}::int, ${servingVariantId}::uuid, ${r.servingDigest ?? null},
             ${r.error ?? null}, ${r.canaryDigest ?? null}, ${r.canarySamples ?? null}::int,
             ${r.canaryCorrect ?? null}::int, ${r.sentAt}, ${r.receivedAt}
      WHERE EXISTS (SELECT 1 FROM "Device" WHERE "id" = ${deviceId}::uuid)
      ON CONFLICT ("deviceId") DO UPDATE SET
        "generation" = EXCLUDED."generation", "phase" = EXCLUDED."phase", "step" = EXCLUDED."step",
        "servingGeneration" = EXCLUDED."servingGeneration",
        "servingVariantId" = EXCLUDED."servingVariantId",
        "servingDigest" = EXCLUDED."servingDigest", "error" = EXCLUDED."error",
        "canaryDigest" = EXCLUDED."canaryDigest", "canarySamples" = EXCLUDED."canarySamples",
        "canaryCorrect" = EXCLUDED."canaryCorrect",
        "sentAt" = EXCLUDED."sentAt", "receivedAt" = EXCLUDED."receivedAt"
      WHERE (s."generation", s."sentAt") <= (EXCLUDED."generation", EXCLUDED."sentAt")
      RETURNING *`;
    return rows[0] ?? null;
  }

  async countByPhase(): Promise<Record<string, number>> {
    const rows = await this.db.deviceReportedState.groupBy({
      by: ["phase"],
      _count: { _all: true },
    });
    return Object.fromEntries(rows.map((r) => [r.phase, r._count._all]));
  }

  async statesOf(deviceIds: string[]) {
    const ids = deviceIds.filter(isUuid);
    const [assignments, reported] = await Promise.all([
      this.db.deviceAssignment.findMany({
        where: { deviceId: { in: ids }, generation: { gt: 0 } },
      }),
      this.db.deviceReportedState.findMany({ where: { deviceId: { in: ids } } }),
    ]);
    return {
      assignments: new Map(assignments.map((a) => [a.deviceId, a])),
      reported: new Map(reported.map((r) => [r.deviceId, r])),
    };
  }
}
