// Rollouts and their targets, the controller lease that fences their writes, re-targeting moves,
// and fleet selection done by the database (labels by JSON containment, not by paging the fleet
// into memory).
import { isUuid } from "./client";
import {
  type Device,
  Prisma,
  type PrismaClient,
  type RetargetMove,
  type Rollout,
  type RolloutState,
  type RolloutTarget,
} from "./generated/prisma/client";

export interface DeviceSelector {
  deviceIds?: string[];
  labels?: Record<string, string>;
  status?: "enrolled" | "online" | "offline";
  deviceClass?: string;
}

/** A lease held: every fenced write checks it is still this holder's, at this epoch. */
export interface Fence {
  name: string;
  holder: string;
  epoch: number;
}

/** The lease moved on: the write was refused and nothing was written. */
export class FencedError extends Error {
  override name = "FencedError";
  constructor(fence: Fence) {
    super(`lease ${fence.name} epoch ${fence.epoch} is no longer held by ${fence.holder}`);
  }
}

/** Inside a transaction: locks the lease row shared, or throws FencedError. */
export async function checkFence(tx: Prisma.TransactionClient, fence: Fence): Promise<void> {
  const rows = await tx.$queryRaw<{ ok: number }[]>`
    SELECT 1 AS ok FROM "ControllerLease"
    WHERE "name" = ${fence.name} AND "holder" = ${fence.holder} AND "epoch" = ${fence.epoch}
      AND "expiresAt" > now()
    FOR SHARE`;
  if (rows.length === 0) throw new FencedError(fence);
}

/** A rollout target without its plan reasons. */
export type TargetRow = Omit<RolloutTarget, "reasons">;

type TargetFilter = { wave?: number; states?: string[]; limit?: number };

function targetQuery(rolloutId: string, filter: TargetFilter) {
  return {
    where: {
      rolloutId,
      ...(filter.wave !== undefined ? { wave: filter.wave } : {}),
      ...(filter.states ? { state: { in: filter.states } } : {}),
    },
    orderBy: [{ wave: "asc" as const }, { deviceId: "asc" as const }],
    take: filter.limit ?? 100_000,
  };
}

export interface NewRolloutTarget {
  deviceId: string;
  wave: number;
  variantId: string | null;
  reasons: string[];
  state: string;
  joinedLate?: boolean;
}

export interface NewRollout {
  modelId: string;
  name: string;
  selector: Prisma.InputJsonObject;
  policy: Prisma.InputJsonObject;
  strategy: Prisma.InputJsonObject;
  canaryDigest: string | null;
  createdBy: string;
}

export interface TargetStateUpdate {
  deviceId: string;
  state: string;
  generation?: number;
  previousVariantId?: string | null;
}

export type RolloutWithCounts = Rollout & {
  /** Targets by wave and state: counts[wave][state]. */
  counts: Record<number, Record<string, number>>;
};

export interface RolloutRepo {
  create(rollout: NewRollout, targets: NewRolloutTarget[]): Promise<Rollout>;
  find(id: string): Promise<RolloutWithCounts | null>;
  list(limit?: number): Promise<Rollout[]>;
  inState(states: RolloutState[]): Promise<Rollout[]>;
  /** Updates the rollout (fenced when `fence` is given); null when it does not exist. */
  update(id: string, data: Prisma.RolloutUpdateInput, fence?: Fence): Promise<Rollout | null>;
  /**
   * A halted rollout running again, in one transaction: its halt cleared and the targets of the
   * wave it stopped at that were put back (`rolled-back`) pending again, so the wave is retried.
   * Null when it does not exist or is no longer halted.
   */
  resumeHalted(id: string): Promise<Rollout | null>;
  /** With each device's name, for people. */
  targets(
    rolloutId: string,
    filter?: { wave?: number; states?: string[]; limit?: number },
  ): Promise<(RolloutTarget & { device: { name: string } })[]>;
  /** `targets` without each device's plan reasons: what the controller reads every tick. */
  targetStates(
    rolloutId: string,
    filter?: { wave?: number; states?: string[]; limit?: number },
  ): Promise<TargetRow[]>;
  addTargets(rolloutId: string, targets: NewRolloutTarget[], fence?: Fence): Promise<number>;
  updateTarget(
    rolloutId: string,
    deviceId: string,
    data: Prisma.RolloutTargetUpdateInput,
    fence?: Fence,
  ): Promise<void>;
  /** Many targets' states in one statement (generation and previous variant when given). */
  setTargetStates(rolloutId: string, updates: TargetStateUpdate[], fence?: Fence): Promise<void>;
  /**
   * Moves the rollout's `assigned` targets on by their devices' reports, in one statement: a
   * report of the target's generation that is `applied` with the target's variant makes it
   * `applied`, one that `failed` (or rolled back) `failed`; a report of a newer generation
   * (someone assigned the device since) `superseded`. Returns how many moved.
   */
  followReports(rolloutId: string, fence?: Fence): Promise<number>;
  /** Devices the selector matches, selected by the database, oldest first. */
  selectDevices(
    selector: DeviceSelector,
    opts?: { notInRollout?: string; limit?: number },
  ): Promise<Device[]>;
  /** The newest rollout target of each device (what rollout assigned it last), running or done. */
  latestTargets(deviceIds: string[]): Promise<Map<string, RolloutTarget & { rollout: Rollout }>>;
  acquireLease(name: string, holder: string, ttlMs: number): Promise<Fence | null>;
  renewLease(fence: Fence, ttlMs: number): Promise<boolean>;
  releaseLease(fence: Fence): Promise<void>;
  addMove(move: Omit<RetargetMove, "id" | "at"> & { at?: Date }, fence?: Fence): Promise<void>;
  moves(deviceId: string, limit?: number): Promise<RetargetMove[]>;
  /** When each of these devices was last moved (devices never moved are absent): one query. */
  lastMovedAt(deviceIds: readonly string[]): Promise<Map<string, Date>>;
}

export class PrismaRolloutRepo implements RolloutRepo {
  constructor(private readonly db: PrismaClient) {}

  create(rollout: NewRollout, targets: NewRolloutTarget[]): Promise<Rollout> {
    // One target row per device: 10,000 of them took 12.7 s on a loaded 2-core machine, past
    // Prisma's 5 s default, and the commit of an expired transaction fails the whole create.
    return this.db.$transaction(
      async (tx) => {
        const row = await tx.rollout.create({ data: rollout });
        if (targets.length > 0) {
          await tx.rolloutTarget.createMany({
            data: targets.map((t) => ({ ...t, rolloutId: row.id })),
          });
        }
        return row;
      },
      { timeout: 120_000 },
    );
  }

  async find(id: string): Promise<RolloutWithCounts | null> {
    if (!isUuid(id)) return null;
    const rollout = await this.db.rollout.findUnique({ where: { id } });
    if (!rollout) return null;
    const groups = await this.db.rolloutTarget.groupBy({
      by: ["wave", "state"],
      where: { rolloutId: id },
      _count: { _all: true },
    });
    const counts: Record<number, Record<string, number>> = {};
    for (const g of groups) {
      counts[g.wave] ??= {};
      counts[g.wave][g.state] = g._count._all;
    }
    return { ...rollout, counts };
  }

  list(limit = 100): Promise<Rollout[]> {
    return this.db.rollout.findMany({ orderBy: { createdAt: "desc" }, take: limit });
  }

  inState(states: RolloutState[]): Promise<Rollout[]> {
    return this.db.rollout.findMany({
      where: { state: { in: states } },
      orderBy: { createdAt: "asc" },
    });
  }

  async update(id: string, data: Prisma.RolloutUpdateInput, fence?: Fence) {
    if (!isUuid(id)) return null;
    return this.db.$transaction(async (tx) => {
      if (fence) await checkFence(tx, fence);
      const found = await tx.rollout.findUnique({ where: { id }, select: { id: true } });
      if (!found) return null;
      return tx.rollout.update({ where: { id }, data });
    });
  }

  async resumeHalted(id: string) {
    if (!isUuid(id)) return null;
    return this.db.$transaction(async (tx) => {
      const [row] = await tx.$queryRaw<{ currentWave: number }[]>`
        SELECT "currentWave" FROM "Rollout" WHERE "id" = ${id}::uuid AND "state" = 'halted'
        FOR UPDATE`;
      if (!row) return null;
      await tx.rolloutTarget.updateMany({
        where: { rolloutId: id, wave: row.currentWave, state: "rolled-back" },
        data: { state: "pending", generation: null },
      });
      return tx.rollout.update({
        where: { id },
        data: { state: "running", haltReason: null, waveStartedAt: null },
      });
    });
  }

  targets(rolloutId: string, filter: TargetFilter = {}) {
    if (!isUuid(rolloutId)) return Promise.resolve([]);
    return this.db.rolloutTarget.findMany({
      ...targetQuery(rolloutId, filter),
      include: { device: { select: { name: true } } },
    });
  }

  targetStates(rolloutId: string, filter: TargetFilter = {}): Promise<TargetRow[]> {
    if (!isUuid(rolloutId)) return Promise.resolve([]);
    return this.db.rolloutTarget.findMany({
      ...targetQuery(rolloutId, filter),
      omit: { reasons: true },
    });
  }

  addTargets(rolloutId: string, targets: NewRolloutTarget[], fence?: Fence): Promise<number> {
    return this.db.$transaction(async (tx) => {
      if (fence) await checkFence(tx, fence);
      const res = await tx.rolloutTarget.createMany({
        data: targets.map((t) => ({ ...t, rolloutId })),
        skipDuplicates: true,
      });
      return res.count;
    });
  }

  async updateTarget(
    rolloutId: string,
    deviceId: string,
    data: Prisma.RolloutTargetUpdateInput,
    fence?: Fence,
  ): Promise<void> {
    await this.db.$transaction(async (tx) => {
      if (fence) await checkFence(tx, fence);
      await tx.rolloutTarget.update({
        where: { rolloutId_deviceId: { rolloutId, deviceId } },
        data,
      });
    });
  }

  async setTargetStates(rolloutId: string, updates: TargetStateUpdate[], fence?: Fence) {
    if (updates.length === 0) return;
    await this.db.$transaction(async (tx) => {
      if (fence) await checkFence(tx, fence);
      for (let i = 0; i < updates.length; i += 5_000) {
        const rows = updates.slice(i, i + 5_000).map(
          (u) => Prisma.sql`(${u.deviceId}::uuid, ${u.state}, ${u.generation ?? null}::int,
            ${u.previousVariantId !== undefined}::boolean, ${u.previousVariantId ?? null}::uuid)`,
        );
        await tx.$executeRaw`
          UPDATE "RolloutTarget" AS t SET
            "state" = u.state,
            "generation" = COALESCE(u.generation, t."generation"),
            "previousVariantId" = CASE WHEN u.has_previous THEN u.previous ELSE t."previousVariantId" END,
            "updatedAt" = now()
          FROM (VALUES ${Prisma.join(rows)}) AS u("deviceId", state, generation, has_previous, previous)
          WHERE t."rolloutId" = ${rolloutId}::uuid AND t."deviceId" = u."deviceId"`;
      }
    });
  }

  followReports(rolloutId: string, fence?: Fence): Promise<number> {
    return this.db.$transaction(async (tx) => {
      if (fence) await checkFence(tx, fence);
      return tx.$executeRaw`
        UPDATE "RolloutTarget" AS t SET
          "state" = CASE
            WHEN r."generation" > t."generation" THEN 'superseded'
            WHEN r."phase" = 'applied' THEN 'applied'
            ELSE 'failed' END,
          "updatedAt" = now()
        FROM "DeviceReportedState" AS r
        WHERE t."rolloutId" = ${rolloutId}::uuid AND t."state" = 'assigned'
          AND t."generation" IS NOT NULL AND r."deviceId" = t."deviceId"
          AND (r."generation" > t."generation"
            OR (r."generation" = t."generation"
              AND ((r."phase" = 'applied' AND r."servingVariantId" = t."variantId")
                OR r."phase" IN ('failed', 'rolled-back'))))`;
    });
  }

  selectDevices(
    selector: DeviceSelector,
    opts: { notInRollout?: string; limit?: number } = {},
  ): Promise<Device[]> {
    // A decommissioned device (issue 11) is never targeted again.
    const clauses: Prisma.Sql[] = [Prisma.sql`d."status" <> 'decommissioned'::"DeviceStatus"`];
    if (selector.deviceIds) {
      const ids = selector.deviceIds.filter(isUuid);
      if (ids.length === 0) return Promise.resolve([]);
      clauses.push(Prisma.sql`d."id" IN (${Prisma.join(ids.map((i) => Prisma.sql`${i}::uuid`))})`);
    }
    if (selector.labels && Object.keys(selector.labels).length > 0) {
      clauses.push(Prisma.sql`d."labels" @> ${JSON.stringify(selector.labels)}::jsonb`);
    }
    if (selector.deviceClass !== undefined) {
      clauses.push(Prisma.sql`d."deviceClass" = ${selector.deviceClass}`);
    }
    if (selector.status) {
      clauses.push(Prisma.sql`d."status" = ${selector.status}::"DeviceStatus"`);
    }
    if (opts.notInRollout) {
      clauses.push(Prisma.sql`NOT EXISTS (SELECT 1 FROM "RolloutTarget" t
        WHERE t."rolloutId" = ${opts.notInRollout}::uuid AND t."deviceId" = d."id")`);
    }
    return this.db.$queryRaw<Device[]>`
      SELECT d.* FROM "Device" d WHERE ${Prisma.join(clauses, " AND ")}
      ORDER BY d."createdAt", d."id" LIMIT ${opts.limit ?? 100_000}`;
  }

  async latestTargets(deviceIds: string[]) {
    const ids = deviceIds.filter(isUuid);
    if (ids.length === 0) return new Map();
    const rows = await this.db.rolloutTarget.findMany({
      where: {
        deviceId: { in: ids },
        rollout: { state: { in: ["running", "completed"] } },
        state: "applied",
      },
      include: { rollout: true },
      orderBy: { updatedAt: "desc" },
    });
    const out = new Map<string, RolloutTarget & { rollout: Rollout }>();
    for (const r of rows) if (!out.has(r.deviceId)) out.set(r.deviceId, r);
    return out;
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<Fence | null> {
    // Take it when free or expired (a new epoch), or keep it when it is ours (same epoch).
    const rows = await this.db.$queryRaw<{ epoch: number }[]>`
      INSERT INTO "ControllerLease" ("name", "holder", "epoch", "expiresAt")
      VALUES (${name}, ${holder}, 1, now() + ${ttlMs} * interval '1 millisecond')
      ON CONFLICT ("name") DO UPDATE SET
        "epoch" = CASE WHEN "ControllerLease"."holder" = EXCLUDED."holder"
                       THEN "ControllerLease"."epoch" ELSE "ControllerLease"."epoch" + 1 END,
        "holder" = EXCLUDED."holder",
        "expiresAt" = EXCLUDED."expiresAt"
      WHERE "ControllerLease"."holder" = EXCLUDED."holder" OR "ControllerLease"."expiresAt" <= now()
      RETURNING "epoch"`;
    return rows[0] ? { name, holder, epoch: rows[0].epoch } : null;
  }

  async renewLease(fence: Fence, ttlMs: number): Promise<boolean> {
    const n = await this.db.$executeRaw`
      UPDATE "ControllerLease" SET "expiresAt" = now() + ${ttlMs} * interval '1 millisecond'
      WHERE "name" = ${fence.name} AND "holder" = ${fence.holder} AND "epoch" = ${fence.epoch}
        AND "expiresAt" > now()`;
    return n === 1;
  }

  async releaseLease(fence: Fence): Promise<void> {
    await this.db.$executeRaw`
      UPDATE "ControllerLease" SET "expiresAt" = now()
      WHERE "name" = ${fence.name} AND "holder" = ${fence.holder} AND "epoch" = ${fence.epoch}`;
  }

  async addMove(move: Omit<RetargetMove, "id" | "at"> & { at?: Date }, fence?: Fence) {
    await this.db.$transaction(async (tx) => {
      if (fence) await checkFence(tx, fence);
      await tx.retargetMove.create({ data: move });
    });
  }

  async lastMovedAt(deviceIds: readonly string[]): Promise<Map<string, Date>> {
    const ids = deviceIds.filter(isUuid);
    if (ids.length === 0) return new Map();
    const rows = await this.db.retargetMove.groupBy({
      by: ["deviceId"],
      where: { deviceId: { in: ids } },
      _max: { at: true },
    });
    return new Map(rows.flatMap((r) => (r._max.at ? [[r.deviceId, r._max.at] as const] : [])));
  }

  moves(deviceId: string, limit = 50): Promise<RetargetMove[]> {
    if (!isUuid(deviceId)) return Promise.resolve([]);
    return this.db.retargetMove.findMany({
      where: { deviceId },
      orderBy: { at: "desc" },
      take: limit,
    });
  }
}
