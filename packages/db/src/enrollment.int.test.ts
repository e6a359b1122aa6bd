import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DuplicatePublicKeyError, enrollDevice } from "./enrollment";
import { PrismaEnrollmentTokenRepo } from "./enrollment-token-repo";
import { newDevice, usePrisma } from "./test-fixtures";

const ctx = usePrisma();

async function token(maxUses = 1, expiresInMs = 3600_000) {
  return new PrismaEnrollmentTokenRepo(ctx.prisma).create({
    label: "enroll",
    expiresAt: new Date(Date.now() + expiresInMs),
    maxUses,
  });
}

const uses = async (id: string) =>
  (await ctx.prisma.enrollmentToken.findUniqueOrThrow({ where: { id } })).uses;

describe("enrollDevice", () => {
  it("consumes the token and creates the device linked to it", async () => {
    const { token: t, secret } = await token();
    const input = newDevice({ id: randomUUID() });
    const result = await enrollDevice(ctx.prisma, { secret, device: input });
    if (!result.ok) throw new Error(`refused: ${result.reason}`);
    expect(result.tokenId).toBe(t.id);
    expect(result.device).toMatchObject({
      id: input.id,
      publicKey: input.publicKey,
      enrollmentTokenId: t.id,
    });
    expect(await uses(t.id)).toBe(1);
  });

  it.each([
    { what: "used-up", maxUses: 1, expiresInMs: 3600_000, reason: "used_up" },
    { what: "expired", maxUses: 5, expiresInMs: -1, reason: "expired" },
  ])("a $what token writes nothing", async ({ maxUses, expiresInMs, reason }) => {
    const { secret } = await token(maxUses, expiresInMs);
    if (reason === "used_up") await enrollDevice(ctx.prisma, { secret, device: newDevice() });
    const input = newDevice();
    expect(await enrollDevice(ctx.prisma, { secret, device: input })).toEqual({
      ok: false,
      reason,
    });
    expect(
      await ctx.prisma.device.findUnique({ where: { publicKey: input.publicKey } }),
    ).toBeNull();
  });

  it("an unknown token writes nothing", async () => {
    const input = newDevice();
    expect(await enrollDevice(ctx.prisma, { secret: "nope", device: input })).toEqual({
      ok: false,
      reason: "unknown",
    });
    expect(await ctx.prisma.device.count({ where: { publicKey: input.publicKey } })).toBe(0);
  });

  it("when the device insert fails the token keeps its use (one transaction)", async () => {
    const first = await token(1);
    const device = newDevice();
    await enrollDevice(ctx.prisma, { secret: first.secret, device });
    const second = await token(1);
    await expect(
      enrollDevice(ctx.prisma, {
        secret: second.secret,
        device: newDevice({ publicKey: device.publicKey }),
      }),
    ).rejects.toBeInstanceOf(DuplicatePublicKeyError);
    expect(await uses(second.token.id)).toBe(0);
    expect(await ctx.prisma.device.count({ where: { publicKey: device.publicKey } })).toBe(1);
  });
});
