import type { Db } from "./client";
import { isNotFound, isUuid } from "./client";
import type { Device, DeviceStatus, Prisma } from "./generated/prisma/client";

/** What an agent reports about its hardware; everything else about a device is ours. */
export interface DeviceFacts {
  arch: string;
  cores: number;
  ramBytes: bigint | number;
  cpuModel: string;
  cpuFlags: string[];
  accelerators: string[];
  agentVersion: string;
  /** The full fact sheet as reported (OS, kernel, ...). */
  facts: Prisma.InputJsonObject;
  simulated?: boolean;
  deviceClass?: string | null;
}

export interface NewDevice extends DeviceFacts {
  /** Chosen by the caller when credentials must be minted for the id before the row exists. */
  id?: string;
  name: string;
  /** The device's NATS nkey (public part); unique across the fleet. */
  publicKey: string;
  labels?: Record<string, string>;
  enrollmentTokenId?: string | null;
}

export interface ListDevicesQuery {
  /** Page size, 1..500 (default 50). */
  limit?: number;
  /** `nextCursor` of the previous page; omit for the first page. */
  cursor?: string | null;
  status?: DeviceStatus;
  /** Exact device class ("rpi4"). */
  deviceClass?: string;
  /** Every pair must be among the device's labels. */
  labels?: Record<string, string>;
  /** Devices that report serving this variant. */
  servingVariantId?: string;
}

export interface DevicePage {
  items: Device[];
  /** Devices matching the filter, over all pages. */
  total: number;
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface MarkSeenResult {
  previousStatus: DeviceStatus;
  /** The device was not online before this call (offline, or enrolled and never seen). */
  wasOffline: boolean;
}

export interface DeviceRepo {
  create(input: NewDevice): Promise<Device>;
  /**
   * Many devices in few statements (bulk registration: ids and keys chosen by the caller), all
   * or nothing; returns how many were written.
   */
  createMany(inputs: readonly NewDevice[]): Promise<number>;
  findById(id: string): Promise<Device | null>;
  findByPublicKey(publicKey: string): Promise<Device | null>;
  /** Oldest first, keyset-paged on (createdAt, id) so pages stay stable while devices enroll. */
  list(query?: ListDevicesQuery): Promise<DevicePage>;
  /** Null when no such device. */
  updateFacts(id: string, facts: Partial<DeviceFacts>): Promise<Device | null>;
  setLabels(id: string, labels: Record<string, string>): Promise<Device | null>;
  /**
   * Sets and removes some labels in one statement (no read-modify-write: concurrent patches of
   * other keys are all kept); others stay. Null when no such device.
   */
  patchLabels(
    id: string,
    patch: { set: Record<string, string>; remove: readonly string[] },
  ): Promise<Device | null>;
  /** Marks the device online; lastSeenAt never moves backwards. Null when no such device. */
  markSeen(id: string, at: Date): Promise<MarkSeenResult | null>;
  /** `markSeen` for many devices in one statement (heartbeats, batched); unknown ids are absent. */
  markSeenMany(ids: readonly string[], at: Date): Promise<Map<string, MarkSeenResult>>;
  /** Online devices last seen before `cutoff` become offline; returns their ids. */
  markOfflineOlderThan(cutoff: Date): Promise<string[]>;
  countByStatus(): Promise<Record<string, number>>;
}

const CREATE_MANY_CHUNK = 2_000;

export class PrismaDeviceRepo implements DeviceRepo {
  constructor(private readonly db: Db) {}

  create(input: NewDevice): Promise<Device> {
    return createDevice(this.db, input);
  }

  async createMany(inputs: readonly NewDevice[]): Promise<number> {
    const rows = inputs.map((input) => ({
      ...input,
      ramBytes: BigInt(input.ramBytes),
      labels: input.labels ?? {},
    }));
    // Postgres takes at most 65535 bind parameters per statement; a device row has ~17.
    const write = async (db: Db) => {
      let written = 0;
      for (let i = 0; i < rows.length; i += CREATE_MANY_CHUNK) {
        const chunk = rows.slice(i, i + CREATE_MANY_CHUNK);
        written += (await db.device.createMany({ data: chunk })).count;
      }
      return written;
    };
    if (rows.length <= CREATE_MANY_CHUNK || !("$transaction" in this.db)) return write(this.db);
    return this.db.$transaction((tx) => write(tx), { timeout: 120_000 });
  }

  findById(id: string): Promise<Device | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.db.device.findUnique({ where: { id } });
  }

  findByPublicKey(publicKey: string): Promise<Device | null> {
    return this.db.device.findUnique({ where: { publicKey } });
  }

  async list(query: ListDevicesQuery = {}): Promise<DevicePage> {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 500);
    const filter = listFilter(query);
    const after = query.cursor ? decodeCursor(query.cursor) : null;
    const where: Prisma.DeviceWhereInput = after
      ? {
          AND: [
            filter,
            {
              OR: [
                { createdAt: { gt: after.createdAt } },
                { createdAt: after.createdAt, id: { gt: after.id } },
              ],
            },
          ],
        }
      : filter;
    const [rows, total] = await Promise.all([
      this.db.device.findMany({
        where,
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
        take: limit + 1,
      }),
      this.db.device.count({ where: filter }),
    ]);
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items,
      total,
      nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }

  async updateFacts(id: string, facts: Partial<DeviceFacts>): Promise<Device | null> {
    const { ramBytes, ...rest } = facts;
    const data: Prisma.DeviceUpdateInput = { ...rest };
    if (ramBytes !== undefined) data.ramBytes = BigInt(ramBytes);
    return this.updateOrNull(id, data);
  }

  setLabels(id: string, labels: Record<string, string>): Promise<Device | null> {
    return this.updateOrNull(id, { labels });
  }

  async patchLabels(
    id: string,
    patch: { set: Record<string, string>; remove: readonly string[] },
  ): Promise<Device | null> {
    if (!isUuid(id)) return null;
    // jsonb `-` text[] drops keys, `||` adds or overwrites: removals first, so a key both removed
    // and set ends up set (the service refuses that input anyway).
    const rows = await this.db.$queryRaw<{ id: string }[]>`
      UPDATE "Device"
      SET "labels" = ("labels" - ${[...patch.remove]}::text[]) || ${JSON.stringify(patch.set)}::jsonb,
          "updatedAt" = now()
      WHERE "id" = ${id}::uuid
      RETURNING "id"::text AS "id"`;
    if (rows.length === 0) return null;
    return this.db.device.findUnique({ where: { id } });
  }

  async markSeen(id: string, at: Date): Promise<MarkSeenResult | null> {
    return (await this.markSeenMany([id], at)).get(id) ?? null;
  }

  async markSeenMany(ids: readonly string[], at: Date): Promise<Map<string, MarkSeenResult>> {
    const valid = [...new Set(ids.filter(isUuid))];
    if (valid.length === 0) return new Map();
    // The sub-select locks the rows (in id order: batches never deadlock each other) and hands
    // back the status each had before this update. NO KEY UPDATE, the lock the UPDATE itself
    // takes: FOR UPDATE would also conflict with the KEY SHARE locks that rows referencing the
    // device take (the telemetry fold's cursor and rollup writes), so heartbeats would queue
    // behind folds and deadlock against them.
    const rows = await this.db.$queryRaw<{ id: string; previousStatus: DeviceStatus }[]>`
      UPDATE "Device" AS d
      SET "status" = 'online',
          "lastSeenAt" = GREATEST(COALESCE(d."lastSeenAt", ${at}), ${at}),
          "updatedAt" = now()
      FROM (SELECT "id", "status" FROM "Device" WHERE "id" = ANY(${valid}::uuid[])
              AND "status" <> 'decommissioned'
            ORDER BY "id" FOR NO KEY UPDATE) AS old
      WHERE d."id" = old."id"
      RETURNING d."id"::text AS "id", old."status"::text AS "previousStatus"`;
    return new Map(
      rows.map((r) => [
        r.id,
        { previousStatus: r.previousStatus, wasOffline: r.previousStatus !== "online" },
      ]),
    );
  }

  async markOfflineOlderThan(cutoff: Date): Promise<string[]> {
    // READ COMMITTED re-checks the WHERE on rows a concurrent markSeen just updated, so a device
    // seen a moment ago is never turned offline.
    const rows = await this.db.$queryRaw<{ id: string }[]>`
      UPDATE "Device" SET "status" = 'offline', "updatedAt" = now()
      WHERE "status" = 'online' AND "lastSeenAt" < ${cutoff}
      RETURNING "id"::text AS "id"`;
    return rows.map((r) => r.id);
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.db.device.groupBy({ by: ["status"], _count: { _all: true } });
    return Object.fromEntries(rows.map((r) => [r.status, r._count._all]));
  }

  private async updateOrNull(id: string, data: Prisma.DeviceUpdateInput): Promise<Device | null> {
    if (!isUuid(id)) return null;
    try {
      return await this.db.device.update({ where: { id }, data });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }
}

/** The filter part of a list query, for the database to apply (rows and count alike). */
function listFilter(query: ListDevicesQuery): Prisma.DeviceWhereInput {
  const and: Prisma.DeviceWhereInput[] = [];
  if (query.status) and.push({ status: query.status });
  if (query.deviceClass !== undefined) and.push({ deviceClass: query.deviceClass });
  for (const [key, value] of Object.entries(query.labels ?? {})) {
    and.push({ labels: { path: [key], equals: value } });
  }
  if (query.servingVariantId !== undefined) {
    // A malformed id matches nothing rather than failing the uuid cast.
    if (!isUuid(query.servingVariantId)) return { id: { in: [] } };
    and.push({ reportedState: { servingVariantId: query.servingVariantId } });
  }
  return and.length ? { AND: and } : {};
}

/** Shared with enrollDevice, which creates the device inside its own transaction. */
export function createDevice(db: Db, input: NewDevice): Promise<Device> {
  return db.device.create({
    data: {
      ...input,
      ramBytes: BigInt(input.ramBytes),
      labels: input.labels ?? {},
    },
  });
}

interface Cursor {
  createdAt: Date;
  id: string;
}

export class InvalidCursorError extends Error {
  override name = "InvalidCursorError";
  constructor(cursor: string) {
    super(`invalid page cursor: ${cursor.slice(0, 64)}`);
  }
}

function encodeCursor(d: Device): string {
  return Buffer.from(JSON.stringify([d.createdAt.toISOString(), d.id])).toString("base64url");
}

function decodeCursor(cursor: string): Cursor {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    const createdAt = new Date(String(at));
    if (typeof id !== "string" || !isUuid(id) || Number.isNaN(createdAt.getTime())) {
      throw new Error("bad cursor");
    }
    return { createdAt, id };
  } catch {
    throw new InvalidCursorError(cursor);
  }
}
