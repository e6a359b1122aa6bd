import { randomUUID } from "node:crypto";
import { fromStoredRollup, hasSeen, markSeen, mergeRollup } from "@edgefleet/telemetry";
import { describe, expect, it } from "vitest";
import { createPrisma } from "./client";
import { PrismaDeviceRepo } from "./device-repo";
import { PrismaTelemetryRepo, type RollupRecord } from "./telemetry-repo";
import { newDevice, usePrisma } from "./test-fixtures";

const ctx = usePrisma();
const MINUTE = 60_000;
const t0 = new Date("2026-01-01T00:00:00Z").getTime();

function row(deviceId: string, variantId: string, minute: number): RollupRecord {
  return {
    deviceId,
    variantId,
    minute: new Date(t0 + minute * MINUTE),
    messages: 1,
    requests: 10,
    errors: 0,
    rejected: 0,
    runs: 10,
    samples: 10,
    latencySketch: null,
    latencyCount: 0,
    latencySumMs: 0,
    latencyMinMs: null,
    latencyMaxMs: null,
    runSketch: null,
    runCount: 0,
    runSumMs: 0,
    shadowCompared: 0,
    shadowAgreed: 0,
    queueDepthMax: 0,
    cpuPercentMax: 0,
    rssBytesMax: 0,
  };
}

describe("reading rollups", () => {
  it("reads the devices asked for, every row of them, however many other devices report", async () => {
    const devices = new PrismaDeviceRepo(ctx.prisma);
    const ids = Array.from({ length: 30 }, () => randomUUID());
    await devices.createMany(ids.map((id) => ({ ...newDevice(), id })));
    const variant = randomUUID();
    // 30 devices x 400 minutes = 12,000 rows: more than the default cap of 10,000.
    const rows = ids.flatMap((id) => Array.from({ length: 400 }, (_, m) => row(id, variant, m)));
    const repo = new PrismaTelemetryRepo(ctx.prisma);
    await repo.fold((tx) => tx.writeRollups(rows));
    const range = { from: new Date(t0), to: new Date(t0 + 400 * MINUTE) };

    // Without a device filter the read is capped, oldest first: the newest minutes fall off.
    const capped = await repo.rollups({ variantIds: [variant], ...range });
    expect(capped).toHaveLength(10_000);
    expect(Math.max(...capped.map((r) => r.minute.getTime()))).toBeLessThan(t0 + 399 * MINUTE);

    // A controller's read names its devices: all their rows, the newest minute included.
    const mine = ids.slice(0, 26);
    const read = await repo.rollups({ deviceIds: mine, variantIds: [variant], ...range });
    expect(read).toHaveLength(26 * 400);
    expect(new Set(read.map((r) => r.deviceId))).toEqual(new Set(mine));
    expect(read.filter((r) => r.minute.getTime() === t0 + 399 * MINUTE)).toHaveLength(26);
    // An explicit limit still holds.
    expect(await repo.rollups({ deviceIds: mine, ...range, limit: 5 })).toHaveLength(5);
  }, 60_000);
});

describe("folding from two replicas at once", () => {
  it("serialises a device's folds: first upserts of one row from two clients both count", async () => {
    const deviceId = randomUUID();
    await new PrismaDeviceRepo(ctx.prisma).createMany([{ ...newDevice(), id: deviceId }]);
    const variant = randomUUID();
    const other = createPrisma(ctx.db.url);
    const replicas = [new PrismaTelemetryRepo(ctx.prisma), new PrismaTelemetryRepo(other)];
    // Each fold reads the cursor and the row, waits (a slow batch), then writes both: without a
    // lock per device, concurrent folds read "no row" and each writes its own delta over the rest.
    const foldOne = (seq: number) =>
      replicas[seq % 2]!.fold(async (tx) => {
        const cursor = (await tx.cursors([deviceId])).get(deviceId);
        await new Promise((r) => setTimeout(r, 30));
        if (hasSeen(cursor, { epoch: 1, seq })) return;
        const [stored] = await tx.rollups([
          { deviceId: deviceId, variantId: variant, minute: new Date(t0) },
        ]);
        await tx.writeRollups([mergeRollup(stored, fromStoredRollup(row(deviceId, variant, 0)))]);
        await tx.writeCursors(new Map([[deviceId, markSeen(cursor, { epoch: 1, seq })]]));
      });
    try {
      // Out of order, with every seq sent twice: each must count once.
      const seqs = [5, 0, 3, 1, 4, 2, 7, 6];
      await Promise.all([...seqs, ...seqs].map(foldOne));
    } finally {
      await other.$disconnect();
    }
    const [rollup] = await replicas[0]!.rollups({
      deviceId,
      from: new Date(t0),
      to: new Date(t0 + MINUTE),
    });
    expect({ messages: rollup?.messages, requests: rollup?.requests }).toEqual({
      messages: 8,
      requests: 80,
    });
    const cursor = await replicas[0]!.fold((tx) => tx.cursors([deviceId]));
    const stored = cursor.get(deviceId);
    expect(stored).toMatchObject({ epoch: 1, seq: 7 });
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((seq) => hasSeen(stored, { epoch: 1, seq }))).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
  }, 60_000);
});
