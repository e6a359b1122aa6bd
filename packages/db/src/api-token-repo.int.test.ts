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
    expect(await repo().verify(secret)).toEqual({ id: token.id, name: "ops", role: "operator" });
    expect(await repo().verify(`${secret}x`)).toBeNull();
    const row = await ctx.prisma.apiToken.findUniqueOrThrow({ where: { id: token.id } });
    expect(row.tokenHash).toBe(hashSecret(secret));

    expect(await repo().revoke(token.id)).toBe(true);
    expect(await repo().revoke(token.id)).toBe(false);
    expect(await repo().verify(secret)).toBeNull();
    expect(await repo().count()).toBe(before + 1);
  });

  it("lists tokens without their hashes", async () => {
    await repo().create({ name: "viewer", role: "viewer" });
    const list = await repo().list();
    expect(list.length).toBeGreaterThan(0);
    for (const t of list) expect(t).not.toHaveProperty("tokenHash");
  });
});
