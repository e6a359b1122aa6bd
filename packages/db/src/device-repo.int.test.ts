import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { InvalidCursorError, PrismaDeviceRepo } from "./device-repo";
import { newDevice, usePrisma } from "./test-fixtures";

const ctx = usePrisma();
const repo = () => new PrismaDeviceRepo(ctx.prisma);

beforeEach(async () => {
  await ctx.prisma.device.deleteMany();
});

describe("DeviceRepo", () => {
  it("creates and finds a device by id and by public key", async () => {
    const input = newDevice({ labels: { site: "lab" }, deviceClass: "x64-avx512" });
    const created = await repo().create(input);
    expect(created).toMatchObject({
      publicKey: input.publicKey,
      status: "enrolled",
      ramBytes: 16n * 2n ** 30n,
      cpuFlags: ["avx2", "avx512_vnni"],
      labels: { site: "lab" },
      lastSeenAt: null,
    });
    expect(await repo().findById(created.id)).toEqual(created);
    expect(await repo().findByPublicKey(input.publicKey)).toEqual(created);
  });

  it("creates many devices at once with the ids given, all or nothing", async () => {
    const inputs = Array.from({ length: 4_500 }, (_, i) =>
      newDevice({ id: randomUUID(), name: `bulk-${i}`, simulated: true, deviceClass: "rpi4" }),
    );
    expect(await repo().createMany(inputs)).toBe(4_500);
    const last = inputs[4_499];
    expect(await repo().findById(last.id!)).toMatchObject({
      name: "bulk-4499",
      deviceClass: "rpi4",
    });

    // A key already taken in the last chunk undoes the chunks before it.
    const again = Array.from({ length: 4_100 }, () => newDevice({ id: randomUUID() }));
    again[4_099] = { ...again[4_099], publicKey: last.publicKey };
    await expect(repo().createMany(again)).rejects.toThrow();
    expect(await ctx.prisma.device.count()).toBe(4_500);
  }, 60_000);

  it.each(["not-a-uuid", "00000000-0000-4000-8000-000000000000"])(
    "finds nothing for id %s",
    async (id) => {
      expect(await repo().findById(id)).toBeNull();
      expect(await repo().markSeen(id, new Date())).toBeNull();
      expect(await repo().updateFacts(id, { cores: 2 })).toBeNull();
    },
  );

  it("updates facts without touching identity", async () => {
    const d = await repo().create(newDevice());
    const updated = await repo().updateFacts(d.id, {
      cores: 4,
      ramBytes: 2 ** 31,
      agentVersion: "0.2.0",
      facts: { os: "linux", kernel: "6.1" },
    });
    expect(updated).toMatchObject({
      id: d.id,
      publicKey: d.publicKey,
      cores: 4,
      ramBytes: 2n ** 31n,
      agentVersion: "0.2.0",
      facts: { os: "linux", kernel: "6.1" },
    });
  });

  it("pages through all devices exactly once, oldest first, with a total", async () => {
    const created = [];
    for (let i = 0; i < 7; i++) created.push(await repo().create(newDevice({ name: `d${i}` })));
    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const page = await repo().list({ limit: 3, cursor });
      expect(page.total).toBe(7);
      sizes.push(page.items.length);
      seen.push(...page.items.map((d) => d.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(sizes).toEqual([3, 3, 1]);
    expect(seen).toEqual(created.map((d) => d.name));
  });

  it("keeps paging stable when devices enroll between pages", async () => {
    for (let i = 0; i < 4; i++) await repo().create(newDevice({ name: `a${i}` }));
    const first = await repo().list({ limit: 2 });
    await repo().create(newDevice({ name: "late" }));
    const second = await repo().list({ limit: 10, cursor: first.nextCursor });
    expect(second.items.map((d) => d.name)).toEqual(["a2", "a3", "late"]);
    expect(second.nextCursor).toBeNull();
  });

  it("filters by status and rejects a forged cursor", async () => {
    const a = await repo().create(newDevice());
    await repo().create(newDevice());
    await repo().markSeen(a.id, new Date());
    const online = await repo().list({ status: "online" });
    expect(online.items.map((d) => d.id)).toEqual([a.id]);
    expect(online.total).toBe(1);
    await expect(repo().list({ cursor: "garbage" })).rejects.toBeInstanceOf(InvalidCursorError);
  });

  it("filters by class, labels and serving variant in the database, paged", async () => {
    const pi = await repo().create(
      newDevice({ name: "pi", deviceClass: "rpi4", labels: { site: "lab", tier: "a" } }),
    );
    const pi2 = await repo().create(
      newDevice({ name: "pi2", deviceClass: "rpi4", labels: { site: "shop", tier: "a" } }),
    );
    await repo().create(newDevice({ name: "x", deviceClass: "x64", labels: { site: "lab" } }));
    const variantId = randomUUID();
    await ctx.prisma.deviceReportedState.create({
      data: {
        deviceId: pi2.id,
        generation: 1,
        phase: "applied",
        servingVariantId: variantId,
        sentAt: new Date(),
        receivedAt: new Date(),
      },
    });
    const names = async (q: Parameters<PrismaDeviceRepo["list"]>[0]) => {
      const page = await repo().list(q);
      return { names: page.items.map((d) => d.name), total: page.total };
    };
    expect(await names({ deviceClass: "rpi4" })).toEqual({ names: ["pi", "pi2"], total: 2 });
    expect(await names({ labels: { site: "lab" } })).toEqual({ names: ["pi", "x"], total: 2 });
    expect(await names({ labels: { site: "lab", tier: "a" } })).toEqual({
      names: ["pi"],
      total: 1,
    });
    expect(await names({ labels: { site: "nowhere" } })).toEqual({ names: [], total: 0 });
    expect(await names({ servingVariantId: variantId })).toEqual({ names: ["pi2"], total: 1 });
    expect(await names({ servingVariantId: "nope" })).toEqual({ names: [], total: 0 });
    const first = await repo().list({ deviceClass: "rpi4", limit: 1 });
    expect(first.items.map((d) => d.id)).toEqual([pi.id]);
    const next = await repo().list({ deviceClass: "rpi4", limit: 1, cursor: first.nextCursor });
    expect(next).toMatchObject({ total: 2, nextCursor: null });
    expect(next.items.map((d) => d.id)).toEqual([pi2.id]);
  });

  it("pages a filtered fleet of 10,000 devices, every page quick", async () => {
    const inputs = Array.from({ length: 10_000 }, (_, i) =>
      newDevice({
        id: randomUUID(),
        name: `d-${i}`,
        deviceClass: i % 2 ? "rpi4" : "x64",
        labels: { zone: `z${i % 4}` },
      }),
    );
    await repo().createMany(inputs);
    let cursor: string | null = null;
    let seen = 0;
    let slowest = 0;
    do {
      const t0 = performance.now();
      const page: Awaited<ReturnType<PrismaDeviceRepo["list"]>> = await repo().list({
        deviceClass: "rpi4",
        labels: { zone: "z1" },
        limit: 500,
        cursor,
      });
      slowest = Math.max(slowest, performance.now() - t0);
      expect(page.total).toBe(2_500);
      seen += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toBe(2_500);
    // Generous for a shared CI machine; a page held in memory would take seconds, not ms.
    expect(slowest).toBeLessThan(1_500);
  }, 60_000);

  it("markSeen reports whether the device was offline, and never moves lastSeenAt back", async () => {
    const d = await repo().create(newDevice());
    const t0 = new Date("2026-01-01T00:00:00.000Z");
    const t1 = new Date("2026-01-01T00:00:10.000Z");
    expect(await repo().markSeen(d.id, t1)).toEqual({
      previousStatus: "enrolled",
      wasOffline: true,
    });
    expect(await repo().markSeen(d.id, t0)).toEqual({
      previousStatus: "online",
      wasOffline: false,
    });
    expect((await repo().findById(d.id))?.lastSeenAt).toEqual(t1);
    expect(await repo().markOfflineOlderThan(new Date("2026-01-01T00:01:00Z"))).toEqual([d.id]);
    expect(await repo().markSeen(d.id, new Date())).toEqual({
      previousStatus: "offline",
      wasOffline: true,
    });
  });

  it("markSeenMany marks a batch in one statement, skipping ids it does not know", async () => {
    const a = await repo().create(newDevice());
    const b = await repo().create(newDevice());
    await repo().markSeen(a.id, new Date());
    const seen = await repo().markSeenMany(
      [a.id, b.id, b.id, "not-a-uuid", "00000000-0000-4000-8000-000000000000"],
      new Date(),
    );
    expect(Object.fromEntries(seen)).toEqual({
      [a.id]: { previousStatus: "online", wasOffline: false },
      [b.id]: { previousStatus: "enrolled", wasOffline: true },
    });
    expect((await repo().findById(b.id))?.status).toBe("online");
    expect((await repo().markSeenMany([], new Date())).size).toBe(0);
  });

  // The telemetry fold writes rows that reference the device (cursor, rollups), which holds a
  // KEY SHARE lock on the device row until it commits; a heartbeat must not queue behind it.
  it("markSeenMany does not wait for an open transaction writing a row that references the device", async () => {
    const d = await repo().create(newDevice());
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let written!: () => void;
    const cursorWritten = new Promise<void>((r) => {
      written = r;
    });
    const fold = ctx.prisma.$transaction(
      async (tx) => {
        await tx.telemetryCursor.create({ data: { deviceId: d.id, epoch: 1, seq: 1 } });
        written();
        await held;
      },
      { timeout: 30_000 },
    );
    await cursorWritten;
    let timer: NodeJS.Timeout | undefined;
    try {
      const seen = await Promise.race([
        repo().markSeenMany([d.id], new Date()),
        new Promise<"blocked">((r) => {
          timer = setTimeout(() => r("blocked"), 2_000);
        }),
      ]);
      expect(seen).not.toBe("blocked");
    } finally {
      clearTimeout(timer);
      release();
      await fold;
    }
    expect((await repo().findById(d.id))?.status).toBe("online");
  });

  it("markOfflineOlderThan turns only stale online devices offline, once", async () => {
    const now = Date.now();
    const stale = await repo().create(newDevice({ name: "stale" }));
    const fresh = await repo().create(newDevice({ name: "fresh" }));
    const neverSeen = await repo().create(newDevice({ name: "never" }));
    await repo().markSeen(stale.id, new Date(now - 60_000));
    await repo().markSeen(fresh.id, new Date(now - 1_000));
    const cutoff = new Date(now - 30_000);
    expect(await repo().markOfflineOlderThan(cutoff)).toEqual([stale.id]);
    expect(await repo().markOfflineOlderThan(cutoff)).toEqual([]);
    const status = async (id: string) => (await repo().findById(id))?.status;
    expect(await status(stale.id)).toBe("offline");
    expect(await status(fresh.id)).toBe("online");
    expect(await status(neverSeen.id)).toBe("enrolled");
  });
});
