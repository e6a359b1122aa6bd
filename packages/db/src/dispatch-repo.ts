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
  /** `recordReport` for many (a device's newest in the batch counts); returns the rows stored. */
  recordReports(
    reports: (ReportedStateInput & { deviceId: string })[],
  ): Promise<DeviceReportedState[]>;
  countByPhase(): Promise<Record<string, number>>;
  /** Desired rows of many devices (those assigned at least once). */
  assignmentsOf(deviceIds: string[]): Promise<Map<string, DeviceAssignment>>;
  /** Reported rows of many devices. */
  reportedOf(deviceIds: string[]): Promise<Map<string, DeviceReportedState>>;
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
    return (await this.recordReports([{ deviceId, ...r }]))[0] ?? null;
  }

  async recordReports(
    reports: (ReportedStateInput & { deviceId: string })[],
  ): Promise<DeviceReportedState[]> {
    // One row per device in a statement: the newest of a device's reports in this batch.
    const newest = new Map<string, ReportedStateInput & { deviceId: string }>();
    for (const r of reports) {
      if (!isUuid(r.deviceId)) continue;
      const seen = newest.get(r.deviceId);
      const newer =
        !seen ||
        r.generation > seen.generation ||
        (r.generation === seen.generation && r.sentAt.getTime() >= seen.sentAt.getTime());
      if (newer) newest.set(r.deviceId, r);
    }
    const rows = [...newest.values()];
    if (rows.length === 0) return [];
    const col = <T>(f: (r: ReportedStateInput & { deviceId: string }) => T) => rows.map(f);
    // One statement: insert, or overwrite only an older report; a stale one changes nothing.
    return this.db.$queryRaw<DeviceReportedState[]>`
      INSERT INTO "DeviceReportedState" AS s
        ("deviceId", "generation", "phase", "step", "servingGeneration", "servingVariantId",
         "servingDigest", "error", "canaryDigest", "canarySamples", "canaryCorrect",
         "sentAt", "receivedAt")
      SELECT v.* FROM unnest(
        ${col((r) => r.deviceId)}::uuid[], ${col((r) => r.generation)}::int[],
        ${col((r) => r.phase)}::text[], ${col((r) => r.step ?? null)}::text[],
        ${col((r) => r.servingGeneration ?? null)}::int[],
        ${col((r) => (r.servingVariantId && isUuid(r.servingVariantId) ? r.servingVariantId : null))}::uuid[],
        ${col((r) => r.servingDigest ?? null)}::text[], ${col((r) => r.error ?? null)}::text[],
        ${col((r) => r.canaryDigest ?? null)}::text[], ${col((r) => r.canarySamples ?? null)}::int[],
        ${col((r) => r.canaryCorrect ?? null)}::int[], ${col((r) => r.sentAt)}::timestamptz[],
        ${col((r) => r.receivedAt)}::timestamptz[]
      ) AS v("deviceId", "generation", "phase", "step", "servingGeneration", "servingVariantId",
             "servingDigest", "error", "canaryDigest", "canarySamples", "canaryCorrect",
             "sentAt", "receivedAt")
      WHERE EXISTS (SELECT 1 FROM "Device" d WHERE d."id" = v."deviceId")
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
  }

  async countByPhase(): Promise<Record<string, number>> {
    const rows = await this.db.deviceReportedState.groupBy({
      by: ["phase"],
      _count: { _all: true },
    });
    return Object.fromEntries(rows.map((r) => [r.phase, r._count._all]));
  }

  async reportedOf(deviceIds: string[]) {
    const ids = deviceIds.filter(isUuid);
    const rows = await this.db.deviceReportedState.findMany({ where: { deviceId: { in: ids } } });
    return new Map(rows.map((r) => [r.deviceId, r]));
  }

  async assignmentsOf(deviceIds: string[]) {
    const ids = deviceIds.filter(isUuid);
    const rows = await this.db.deviceAssignment.findMany({
      where: { deviceId: { in: ids }, generation: { gt: 0 } },
    });
    return new Map(rows.map((a) => [a.deviceId, a]));
  }

  async statesOf(deviceIds: string[]) {
    const [assignments, reported] = await Promise.all([
      this.assignmentsOf(deviceIds),
      this.reportedOf(deviceIds),
    ]);
    return { assignments, reported };
  }
}
