import { describe, expect, it } from "vitest";
import { PrismaDeviceRepo } from "./device-repo";
import { PrismaDispatchRepo } from "./dispatch-repo";
import { newDevice, usePrisma } from "./test-fixtures";

const ctx = usePrisma();
const repo = () => new PrismaDispatchRepo(ctx.prisma);
const device = () => new PrismaDeviceRepo(ctx.prisma).create(newDevice());

describe("desired state", () => {
  it("stores each generation only when publishing it succeeded", async () => {
    const d = await device();
    const write = (publish: (stored: number) => Promise<number>) =>
      repo().writeAssignment(
        { deviceId: d.id, variantId: null, assignedBy: "test" },
        async (stored) => {
          const generation = await publish(stored);
          return { generation, desired: { generation } };
        },
      );
    expect((await write(async (g) => g + 1)).generation).toBe(1);
    await expect(
      write(async () => {
        throw new Error("KV unreachable");
      }),
    ).rejects.toThrow("KV unreachable");
    expect((await repo().assignment(d.id))?.generation).toBe(1);
    // The publisher may know a newer generation than the database (say, a write whose commit
    // was lost): it decides, and the database follows.
    expect((await write(async (g) => Math.max(g, 7) + 1)).generation).toBe(8);
    expect((await repo().assignment(d.id))?.desired).toEqual({ generation: 8 });
  });

  it("serialises concurrent writers of one device", async () => {
    const d = await device();
    const seen: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, () =>
        repo().writeAssignment({ deviceId: d.id, variantId: null, assignedBy: "t" }, async (g) => {
          seen.push(g);
          await new Promise((r) => setTimeout(r, 5));
          return { generation: g + 1, desired: {} };
        }),
      ),
    );
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect((await repo().assignment(d.id))?.generation).toBe(8);
  });

  it("writes many devices in one transaction, all or nothing", async () => {
    const devices = await Promise.all(Array.from({ length: 5 }, () => device()));
    const inputs = devices.map((d) => ({ deviceId: d.id, variantId: null, assignedBy: "rollout" }));
    const batch = (publish: (stored: Map<string, number>) => void) =>
      repo().writeAssignments(inputs, async (stored) => {
        publish(stored);
        return new Map(
          [...stored].map(([id, g]) => [id, { generation: g + 1, desired: { generation: g + 1 } }]),
        );
      });
    const first = await batch(() => {});
    expect(first.map((r) => r.generation)).toEqual([1, 1, 1, 1, 1]);
    expect(new Set(first.map((r) => r.deviceId))).toEqual(new Set(devices.map((d) => d.id)));
    await expect(
      batch(() => {
        throw new Error("KV unreachable");
      }),
    ).rejects.toThrow("KV unreachable");
    const after = await repo().statesOf(devices.map((d) => d.id));
    expect([...after.assignments.values()].map((a) => a.generation)).toEqual([1, 1, 1, 1, 1]);
    // One device assigned on its own meanwhile: the next batch sees its own generation for each.
    await repo().writeAssignment(inputs[0], async (g) => ({ generation: g + 1, desired: {} }));
    const second = await batch(() => {});
    const byId = new Map(second.map((r) => [r.deviceId, r.generation]));
    expect(byId.get(devices[0].id)).toBe(3);
    expect(byId.get(devices[1].id)).toBe(2);
    await expect(
      repo().writeAssignments([inputs[0], inputs[0]], async () => new Map()),
    ).rejects.toThrow("duplicate device ids");
  });
});

describe("reported state", () => {
  const report = (generation: number, sentAt: number, phase = "applied") => ({
    generation,
    phase,
    sentAt: new Date(sentAt),
    receivedAt: new Date(),
  });

  it.each([
    ["a newer generation", report(2, 1000), true],
    ["the same generation, sent later", report(1, 2000), true],
    ["the same generation, sent earlier", report(1, 500), false],
    ["an older generation, sent later", report(0, 9000), false],
  ])("after gen 1 at t=1000, %s is %s", async (_what, next, stored) => {
    const d = await device();
    expect(await repo().recordReport(d.id, report(1, 1000, "applying"))).not.toBeNull();
    const res = await repo().recordReport(d.id, { ...next, phase: "failed" });
    expect(res !== null).toBe(stored);
    expect((await repo().reported(d.id))?.phase).toBe(stored ? "failed" : "applying");
  });

  it("stores a batch in one statement: each device's newest report, stale ones not", async () => {
    const [a, b, c] = await Promise.all([device(), device(), device()]);
    await repo().recordReport(c.id, report(5, 1000));
    const stored = await repo().recordReports([
      { deviceId: a.id, ...report(1, 1000, "applying") },
      { deviceId: b.id, ...report(1, 1000, "applying") },
      { deviceId: a.id, ...report(1, 2000, "applied") },
      { deviceId: b.id, ...report(0, 3000, "failed") }, // an older generation, sent later
      { deviceId: c.id, ...report(4, 9000, "applied") }, // older than what is stored
      { deviceId: "00000000-0000-4000-8000-000000000000", ...report(1, 1) },
    ]);
    expect(Object.fromEntries(stored.map((r) => [r.deviceId, r.phase]))).toEqual({
      [a.id]: "applied",
      [b.id]: "applying",
    });
    expect((await repo().reported(c.id))?.generation).toBe(5);
    expect(await repo().recordReports([])).toEqual([]);
  });

  it("drops a report of a device that does not exist", async () => {
    expect(
      await repo().recordReport("00000000-0000-4000-8000-000000000000", report(1, 1)),
    ).toBeNull();
    expect(await repo().recordReport("not-a-uuid", report(1, 1))).toBeNull();
  });
});
