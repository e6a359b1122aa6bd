// Telemetry rollups (device x variant x minute, sketches kept for merging on read) and the
// per-device cursor that makes folding exactly-once. Folding itself is pure
// (@edgefleet/telemetry); this is its storage, in one transaction per batch.
import type { Cursor, StoredRollup } from "@edgefleet/telemetry";
import { isUuid } from "./client";
import { Prisma, type PrismaClient, type TelemetryRollup } from "./generated/prisma/client";
import { type NewLatencyObservation, PrismaLatencyRepo } from "./latency-repo";

/** The newest (epoch, seq) folded and the seen window below it (telemetry's `Cursor`). */
export type TelemetryCursorValue = Cursor;

/** A rollup as stored; sketches are DDSketch protobuf bytes. The shape is telemetry's. */
export type RollupRecord = StoredRollup;

export interface RollupKey {
  deviceId: string;
  variantId: string;
  minute: Date;
}

/** What a fold sees inside its transaction. Rows it reads stay locked until it commits. */
export interface TelemetryFoldTx {
  /** Devices of the list that exist (telemetry of a deleted device is dropped). */
  existingDevices(deviceIds: string[]): Promise<Set<string>>;
  cursors(deviceIds: string[]): Promise<Map<string, TelemetryCursorValue>>;
  rollups(keys: RollupKey[]): Promise<RollupRecord[]>;
  writeRollups(rows: RollupRecord[]): Promise<void>;
  writeCursors(cursors: ReadonlyMap<string, TelemetryCursorValue>): Promise<void>;
  /** Field latency for the planner's correction, written with the fold that measured it. */
  addObservations(rows: NewLatencyObservation[]): Promise<void>;
}

export interface RollupQuery {
  deviceId?: string;
  /** These devices' rows, all of them: no cap (the caller's devices x minutes bound the rows). */
  deviceIds?: string[];
  variantIds?: string[];
  from: Date;
  to: Date;
  /** At most this many rows (10,000 by default, unless `deviceIds` is given). */
  limit?: number;
}

export interface TelemetryRepo {
  fold<T>(work: (tx: TelemetryFoldTx) => Promise<T>): Promise<T>;
  /** Oldest first. */
  rollups(query: RollupQuery): Promise<RollupRecord[]>;
}

export class PrismaTelemetryRepo implements TelemetryRepo {
  constructor(private readonly db: PrismaClient) {}

  fold<T>(work: (tx: TelemetryFoldTx) => Promise<T>): Promise<T> {
    return this.db.$transaction((tx) => work(foldTx(tx)), { timeout: 30_000 });
  }

  async rollups(q: RollupQuery): Promise<RollupRecord[]> {
    if (q.deviceId !== undefined && !isUuid(q.deviceId)) return [];
    const rows = await this.db.telemetryRollup.findMany({
      where: {
        ...(q.deviceId ? { deviceId: q.deviceId } : {}),
        ...(q.deviceIds ? { deviceId: { in: q.deviceIds.filter(isUuid) } } : {}),
        ...(q.variantIds ? { variantId: { in: q.variantIds.filter(isUuid) } } : {}),
        minute: { gte: q.from, lt: q.to },
      },
      orderBy: [{ minute: "asc" }],
      ...(q.limit !== undefined || !q.deviceIds
        ? { take: Math.min(q.limit ?? 10_000, 100_000) }
        : {}),
    });
    return rows.map(toRecord);
  }
}

function foldTx(tx: Prisma.TransactionClient): TelemetryFoldTx {
  return {
    async existingDevices(deviceIds) {
      const ids = deviceIds.filter(isUuid);
      if (ids.length === 0) return new Set();
      const rows = await tx.device.findMany({ where: { id: { in: ids } }, select: { id: true } });
      return new Set(rows.map((r) => r.id));
    },
    async cursors(deviceIds) {
      const ids = deviceIds.filter(isUuid);
      if (ids.length === 0) return new Map();
      // Replicas fold in parallel: a lock per device (held to commit, taken in one order so two
      // batches cannot deadlock) makes the second wait and then see the first's cursor and
      // rollups, so a message delivered to both is folded once. A row lock would not do: a
      // device's first fold has no cursor or rollup row to lock, and two first upserts of one
      // rollup row would each write their own delta over the other's.
      await tx.$queryRaw`
        SELECT pg_advisory_xact_lock(hashtextextended('telemetry-fold:' || k, 0))::text
        FROM (SELECT DISTINCT unnest(${ids}::text[]) AS k ORDER BY 1) AS d`;
      const rows = await tx.$queryRaw<
        { deviceId: string; epoch: number; seq: number; seen: Uint8Array | null }[]
      >`
        SELECT "deviceId"::text AS "deviceId", "epoch", "seq", "seen" FROM "TelemetryCursor"
        WHERE "deviceId" IN (${Prisma.join(ids.map((id) => Prisma.sql`${id}::uuid`))})`;
      return new Map(
        rows.map((r) => [
          r.deviceId,
          { epoch: r.epoch, seq: r.seq, seen: r.seen && new Uint8Array(r.seen) },
        ]),
      );
    },
    // Arrays, one parameter per column (unnest), rather than a tuple of parameters per row:
    // Prisma binds each parameter on its own, and a batch touches thousands of rows.
    async rollups(keys) {
      if (keys.length === 0) return [];
      const rows = await tx.$queryRaw<TelemetryRollup[]>`
        SELECT r.* FROM "TelemetryRollup" r
        JOIN unnest(${keys.map((k) => k.deviceId)}::uuid[], ${keys.map((k) => k.variantId)}::uuid[],
          ${keys.map((k) => k.minute)}::timestamptz[]) AS k("deviceId", "variantId", "minute")
          ON r."deviceId" = k."deviceId" AND r."variantId" = k."variantId" AND r."minute" = k."minute"
        ORDER BY r."deviceId", r."variantId", r."minute" FOR UPDATE OF r`;
      return rows.map(toRecord);
    },
    async writeRollups(rows) {
      if (rows.length === 0) return;
      const col = <T>(f: (r: RollupRecord) => T) => rows.map(f);
      const b64 = (b: Uint8Array | null) =>
        b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64") : null;
      await tx.$executeRaw`
        INSERT INTO "TelemetryRollup" ("deviceId", "variantId", "minute", "messages", "requests",
          "errors", "rejected", "runs", "samples", "latencySketch", "latencyCount", "latencySumMs",
          "latencyMinMs", "latencyMaxMs", "runSketch", "runCount", "runSumMs", "shadowCompared",
          "shadowAgreed", "queueDepthMax", "cpuPercentMax", "rssBytesMax", "updatedAt")
        SELECT v."deviceId", v."variantId", v."minute", v."messages", v."requests", v."errors",
          v."rejected", v."runs", v."samples", decode(v."latencySketch", 'base64'),
          v."latencyCount", v."latencySumMs", v."latencyMinMs", v."latencyMaxMs",
          decode(v."runSketch", 'base64'), v."runCount", v."runSumMs", v."shadowCompared",
          v."shadowAgreed", v."queueDepthMax", v."cpuPercentMax", v."rssBytesMax", now()
        FROM unnest(
          ${col((r) => r.deviceId)}::uuid[], ${col((r) => r.variantId)}::uuid[],
          ${col((r) => r.minute)}::timestamptz[], ${col((r) => r.messages)}::int[],
          ${col((r) => r.requests)}::int[], ${col((r) => r.errors)}::int[],
          ${col((r) => r.rejected)}::int[], ${col((r) => r.runs)}::int[],
          ${col((r) => r.samples)}::int[], ${col((r) => b64(r.latencySketch))}::text[],
          ${col((r) => r.latencyCount)}::int[], ${col((r) => r.latencySumMs)}::float8[],
          ${col((r) => r.latencyMinMs)}::float8[], ${col((r) => r.latencyMaxMs)}::float8[],
          ${col((r) => b64(r.runSketch))}::text[], ${col((r) => r.runCount)}::int[],
          ${col((r) => r.runSumMs)}::float8[], ${col((r) => r.shadowCompared)}::int[],
          ${col((r) => r.shadowAgreed)}::int[], ${col((r) => r.queueDepthMax)}::int[],
          ${col((r) => r.cpuPercentMax)}::float8[],
          ${col((r) => String(Math.round(r.rssBytesMax)))}::bigint[]
        ) AS v("deviceId", "variantId", "minute", "messages", "requests", "errors", "rejected",
          "runs", "samples", "latencySketch", "latencyCount", "latencySumMs", "latencyMinMs",
          "latencyMaxMs", "runSketch", "runCount", "runSumMs", "shadowCompared", "shadowAgreed",
          "queueDepthMax", "cpuPercentMax", "rssBytesMax")
        ON CONFLICT ("deviceId", "variantId", "minute") DO UPDATE SET
          "messages" = EXCLUDED."messages", "requests" = EXCLUDED."requests",
          "errors" = EXCLUDED."errors", "rejected" = EXCLUDED."rejected",
          "runs" = EXCLUDED."runs", "samples" = EXCLUDED."samples",
          "latencySketch" = EXCLUDED."latencySketch", "latencyCount" = EXCLUDED."latencyCount",
          "latencySumMs" = EXCLUDED."latencySumMs", "latencyMinMs" = EXCLUDED."latencyMinMs",
          "latencyMaxMs" = EXCLUDED."latencyMaxMs", "runSketch" = EXCLUDED."runSketch",
          "runCount" = EXCLUDED."runCount", "runSumMs" = EXCLUDED."runSumMs",
          "shadowCompared" = EXCLUDED."shadowCompared", "shadowAgreed" = EXCLUDED."shadowAgreed",
          "queueDepthMax" = EXCLUDED."queueDepthMax", "cpuPercentMax" = EXCLUDED."cpuPercentMax",
          "rssBytesMax" = EXCLUDED."rssBytesMax", "updatedAt" = now()`;
    },
    async writeCursors(cursors) {
      if (cursors.size === 0) return;
      const list = [...cursors];
      await tx.$executeRaw`
        INSERT INTO "TelemetryCursor" ("deviceId", "epoch", "seq", "seen")
        SELECT d, e, s, decode(b, 'base64') FROM unnest(${list.map(([d]) => d)}::uuid[],
          ${list.map(([, c]) => c.epoch)}::int[], ${list.map(([, c]) => c.seq)}::int[],
          ${list.map(([, c]) => (c.seen ? Buffer.from(c.seen).toString("base64") : null))}::text[])
          AS v(d, e, s, b)
        ON CONFLICT ("deviceId") DO UPDATE SET "epoch" = EXCLUDED."epoch", "seq" = EXCLUDED."seq",
          "seen" = EXCLUDED."seen"`;
    },
    async addObservations(rows) {
      // A device may report a variant the catalogue no longer (or never) held: its rollups are
      // kept, but there is nothing to correct, and the foreign key would fail the whole batch.
      const ids = [...new Set(rows.map((r) => r.variantId))].filter(isUuid);
      if (ids.length === 0) return;
      const known = new Set(
        (await tx.variant.findMany({ where: { id: { in: ids } }, select: { id: true } })).map(
          (v) => v.id,
        ),
      );
      await new PrismaLatencyRepo(tx).add(rows.filter((r) => known.has(r.variantId)));
    },
  };
}

function toRecord(r: TelemetryRollup): RollupRecord {
  return {
    deviceId: r.deviceId,
    variantId: r.variantId,
    minute: r.minute,
    messages: r.messages,
    requests: r.requests,
    errors: r.errors,
    rejected: r.rejected,
    runs: r.runs,
    samples: r.samples,
    latencySketch: r.latencySketch ? new Uint8Array(r.latencySketch) : null,
    latencyCount: r.latencyCount,
    latencySumMs: r.latencySumMs,
    latencyMinMs: r.latencyMinMs,
    latencyMaxMs: r.latencyMaxMs,
    runSketch: r.runSketch ? new Uint8Array(r.runSketch) : null,
    runCount: r.runCount,
    runSumMs: r.runSumMs,
    shadowCompared: r.shadowCompared,
    shadowAgreed: r.shadowAgreed,
    queueDepthMax: r.queueDepthMax,
    cpuPercentMax: r.cpuPercentMax,
    rssBytesMax: Number(r.rssBytesMax),
  };
}
