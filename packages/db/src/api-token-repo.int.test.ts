import { describe, expect, it } from "vitest";
import { PrismaApiTokenRepo } from "./api-token-repo";
import { hashSecret } from "./secrets";
import { usePrisma } from "./test-fixtures";

const ctx = usePrisma();
const repo = () => new PrismaApiTokenRepo(ctx.prisma);

describe("ApiTokenRepo", () => {
  it("verifies a secret to its role until revoked; stores only the hash", async () => {
    const before = await repo().count();
    const { token, secret } = await repo().create({ name: "ops", role: "operator" });
    expect(await repo().count()).toBe(before + 1);
    expect(await repo().verify(secret)).toEqual({
      id: token.id,
      name: "ops",
      role: "operator",
      expiresAt: null,
    });
    expect(await repo().verify(`${secret}x`)).toBeNull();
    const row = await ctx.prisma.apiToken.findUniqueOrThrow({ where: { id: token.id } });
    expect(row.tokenHash).toBe(hashSecret(secret));

    expect(await repo().revoke(token.id)).toBe("revoked");
    expect(await repo().revoke(token.id)).toBe("already_revoked");
    expect(await repo().revoke("00000000-0000-4000-8000-000000000000")).toBe("not_found");
    expect(await repo().verify(secret)).toBeNull();
    expect(await repo().count()).toBe(before + 1);
  });

  it("an expired token does not verify", async () => {
    const { secret } = await repo().create({
      name: "short",
      role: "viewer",
      expiresAt: new Date(Date.now() + 60_000),
    });
    expect(await repo().verify(secret)).not.toBeNull();
    expect(await repo().verify(secret, new Date(Date.now() + 61_000))).toBeNull();
  });

  it("refuses to revoke the last usable admin token, also when two revoke each other at once", async () => {
    await ctx.prisma.apiToken.updateMany({
      where: { role: "admin", revokedAt: null },
      data: { revokedAt: new Date() },
    });
    const a = await repo().create({ name: "a", role: "admin" });
    expect(await repo().revoke(a.token.id)).toBe("last_admin");
    const b = await repo().create({ name: "b", role: "admin" });
    const results = await Promise.all([repo().revoke(a.token.id), repo().revoke(b.token.id)]);
    expect(results.sort()).toEqual(["last_admin", "revoked"]);
    expect(await repo().verify(a.secret).then(Boolean)).not.toBe(
      await repo().verify(b.secret).then(Boolean),
    );
  });

  it("lists tokens without their hashes", async () => {
    await repo().create({ name: "viewer", role: "viewer" });
    const list = await repo().list();
    expect(list.length).toBeGreaterThan(0);
    for (const t of list) expect(t).not.toHaveProperty("tokenHash");
  });
});
