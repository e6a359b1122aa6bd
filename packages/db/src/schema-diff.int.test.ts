// The migrations, applied by our migrator, must produce exactly the schema Prisma expects:
// Prisma's own schema engine (WebAssembly build) compares the two.
import { describe, expect, it } from "vitest";
import { diffSchemas } from "./schema-diff";
import { usePrisma } from "./test-fixtures";

const ctx = usePrisma();

describe("schema drift", () => {
  it("the migrated database matches prisma/schema.prisma", { timeout: 60_000 }, async () => {
    const diff = await diffSchemas("database", "schema", { databaseUrl: ctx.db.url });
    expect(diff.script).not.toMatch(/CREATE|ALTER|DROP/);
    expect(diff.changed).toBe(false);
  });

  it("would notice a difference (an empty database is far from the schema)", {
    timeout: 60_000,
  }, async () => {
    const diff = await diffSchemas("empty", "schema", { databaseUrl: ctx.db.url });
    expect(diff.changed).toBe(true);
    expect(diff.script).toContain('CREATE TABLE "Device"');
  });

  it("detects drift in a migrated database", { timeout: 60_000 }, async () => {
    await ctx.prisma.$executeRawUnsafe('DROP INDEX "Device_status_lastSeenAt_idx"');
    const diff = await diffSchemas("database", "schema", { databaseUrl: ctx.db.url });
    expect(diff.changed).toBe(true);
    expect(diff.script).toContain('CREATE INDEX "Device_status_lastSeenAt_idx"');
  });
});
