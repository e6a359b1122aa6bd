import { describe, expect, it } from "vitest";
import { PrismaDeviceRepo } from "./device-repo";
import { PrismaDispatchRepo } from "./dispatch-repo";
import { FencedError, PrismaRolloutRepo } from "./rollout-repo";
import { newDevice, usePrisma } from "./test-fixtures";

const ctx = usePrisma();
const repo = () => new PrismaRolloutRepo(ctx.prisma);

describe("controller lease", () => {
  it("is held by one holder at a time, with an epoch that moves on when it changes hands", async () => {
    const a = await repo().acquireLease("ctl", "a", 10_000);
    expect(a?.epoch).toBe(1);
    expect(await repo().acquireLease("ctl", "b", 10_000)).toBeNull();
    expect((await repo().acquireLease("ctl", "a", 10_000))?.epoch).toBe(1); // renewed, same epoch
    expect(await repo().renewLease(a!, 10_000)).toBe(true);
    await repo().releaseLease(a!);
    const b = await repo().acquireLease("ctl", "b", 10_000);
    expect(b?.epoch).toBe(2);
    expect(await repo().renewLease(a!, 10_000)).toBe(false);
  });

  it("fences the writes of a holder that lost it: nothing is written or published", async () => {
    const old = (await repo().acquireLease("fence", "old", 50))!;
    await new Promise((r) => setTimeout(r, 80)); // expired
    const now = (await repo().acquireLease("fence", "new", 10_000))!;
    expect(now.epoch).toBe(old.epoch + 1);
    const d = await new PrismaDeviceRepo(ctx.prisma).create(newDevice());
    let published = false;
    await expect(
      new PrismaDispatchRepo(ctx.prisma).writeAssignment(
        { deviceId: d.id, variantId: null, assignedBy: "old" },
        async (g) => {
          published = true;
          return { generation: g + 1, desired: {} };
        },
        old,
      ),
    ).rejects.toThrow(FencedError);
    expect(published).toBe(false);
    const written = await new PrismaDispatchRepo(ctx.prisma).writeAssignment(
      { deviceId: d.id, variantId: null, assignedBy: "new" },
      async (g) => ({ generation: g + 1, desired: {} }),
      now,
    );
    expect(written.generation).toBe(1);
  });
});

describe("selectDevices", () => {
  it("lets the database select by ids, labels, class and status", async () => {
    const devices = new PrismaDeviceRepo(ctx.prisma);
    const tag = `sel-${Date.now()}`;
    const a = await devices.create(
      newDevice({ labels: { site: tag, floor: "1" }, deviceClass: "rpi4" }),
    );
    const b = await devices.create(
      newDevice({ labels: { site: tag, floor: "2" }, deviceClass: "rpi4" }),
    );
    const c = await devices.create(
      newDevice({ labels: { site: tag }, deviceClass: "x86-gateway" }),
    );
    const ids = async (sel: Parameters<PrismaRolloutRepo["selectDevices"]>[0]) =>
      (await repo().selectDevices(sel)).map((d) => d.id).sort();
    expect(await ids({ labels: { site: tag } })).toEqual([a.id, b.id, c.id].sort());
    expect(await ids({ labels: { site: tag, floor: "2" } })).toEqual([b.id]);
    expect(await ids({ labels: { site: tag }, deviceClass: "rpi4" })).toEqual([a.id, b.id].sort());
    expect(await ids({ deviceIds: [c.id, "nope"] })).toEqual([c.id]);
    expect(await ids({ labels: { site: tag }, status: "online" })).toEqual([]);
  });
});

describe("re-targeting moves", () => {
  it("says when each device was last moved, in one query, and nothing of devices never moved", async () => {
    const devices = new PrismaDeviceRepo(ctx.prisma);
    const [a, b, never] = await Promise.all([1, 2, 3].map(() => devices.create(newDevice())));
    const move = (deviceId: string, at: string) =>
      repo().addMove({
        deviceId,
        rolloutId: null,
        fromVariantId: null,
        toVariantId: "00000000-0000-4000-8000-000000000001",
        action: "move-down",
        reason: "test",
        measuredMs: 1,
        sloMs: 1,
        at: new Date(at),
      });
    await move(a.id, "2026-01-01T00:00:00Z");
    await move(a.id, "2026-01-01T00:05:00Z");
    await move(b.id, "2026-01-01T00:01:00Z");
    const last = await repo().lastMovedAt([a.id, b.id, never.id, "not-a-uuid"]);
    expect(Object.fromEntries([...last].map(([id, at]) => [id, at.toISOString()]))).toEqual({
      [a.id]: "2026-01-01T00:05:00.000Z",
      [b.id]: "2026-01-01T00:01:00.000Z",
    });
    expect((await repo().moves(a.id, 1))[0].at.toISOString()).toBe("2026-01-01T00:05:00.000Z");
  });
});
