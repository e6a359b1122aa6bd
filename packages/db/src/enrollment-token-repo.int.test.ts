import { describe, expect, it } from "vitest";
import { type ConsumeResult, PrismaEnrollmentTokenRepo } from "./enrollment-token-repo";
import { hashSecret } from "./secrets";
import { usePrisma } from "./test-fixtures";

const ctx = usePrisma();
const repo = () => new PrismaEnrollmentTokenRepo(ctx.prisma);
const inOneHour = () => new Date(Date.now() + 3600_000);

describe("EnrollmentTokenRepo", () => {
  it("stores only the sha256 of the secret", async () => {
    const { token, secret } = await repo().create({
      label: "t",
      expiresAt: inOneHour(),
      maxUses: 1,
    });
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toHaveProperty("tokenHash");
    const row = await ctx.prisma.enrollmentToken.findUniqueOrThrow({ where: { id: token.id } });
    expect(row.tokenHash).toBe(hashSecret(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(await repo().idOf(secret)).toBe(token.id);
    expect(await repo().idOf(`${secret}x`)).toBeNull();
  });

  it.each<{
    what: string;
    expiresInMs: number;
    maxUses: number;
    usesBefore: number;
    secret?: string;
    expected: ConsumeResult["ok"] | string;
  }>([
    { what: "a fresh token", expiresInMs: 3600_000, maxUses: 1, usesBefore: 0, expected: true },
    {
      what: "a token with uses left",
      expiresInMs: 3600_000,
      maxUses: 3,
      usesBefore: 2,
      expected: true,
    },
    {
      what: "an expired token",
      expiresInMs: -1000,
      maxUses: 5,
      usesBefore: 0,
      expected: "expired",
    },
    {
      what: "an expired and used-up token",
      expiresInMs: -1000,
      maxUses: 1,
      usesBefore: 1,
      expected: "expired",
    },
    {
      what: "a used-up token",
      expiresInMs: 3600_000,
      maxUses: 2,
      usesBefore: 2,
      expected: "used_up",
    },
    {
      what: "an unknown secret",
      expiresInMs: 3600_000,
      maxUses: 1,
      usesBefore: 0,
      secret: "not-a-token",
      expected: "unknown",
    },
  ])(
    "consume: $what -> $expected",
    async ({ expiresInMs, maxUses, usesBefore, secret, expected }) => {
      const created = await repo().create({
        label: "case",
        expiresAt: new Date(Date.now() + expiresInMs),
        maxUses,
      });
      await ctx.prisma.enrollmentToken.update({
        where: { id: created.token.id },
        data: { uses: usesBefore },
      });
      const result = await repo().consume(secret ?? created.secret);
      const after = await ctx.prisma.enrollmentToken.findUniqueOrThrow({
        where: { id: created.token.id },
      });
      if (expected === true) {
        expect(result).toEqual({ ok: true, tokenId: created.token.id });
        expect(after.uses).toBe(usesBefore + 1);
      } else {
        expect(result).toEqual({ ok: false, reason: expected });
        expect(after.uses).toBe(usesBefore);
      }
    },
  );

  it("a one-use token consumed concurrently has exactly one winner", async () => {
    const { token, secret } = await repo().create({
      label: "race",
      expiresAt: inOneHour(),
      maxUses: 1,
    });
    const results = await Promise.all(Array.from({ length: 8 }, () => repo().consume(secret)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === "used_up")).toHaveLength(7);
    const row = await ctx.prisma.enrollmentToken.findUniqueOrThrow({ where: { id: token.id } });
    expect(row.uses).toBe(1);
  });

  it("refuses a non-positive maxUses", async () => {
    await expect(repo().create({ label: "x", expiresAt: inOneHour(), maxUses: 0 })).rejects.toThrow(
      RangeError,
    );
  });
});
