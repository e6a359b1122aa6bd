import pg from "pg";
import { describe, expect, it } from "vitest";
import { createTestDatabase, testServerUrl } from "./postgres";

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

const exists = async (name: string) =>
  (
    await query<{ n: number }>(
      await testServerUrl(),
      `SELECT count(*)::int AS n FROM pg_database WHERE datname = '${name}'`,
    )
  )[0].n === 1;

describe("createTestDatabase", () => {
  it("gives each caller its own migrated database, and drop removes it", async () => {
    const [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    try {
      expect(a.url).not.toBe(b.url);
      for (const db of [a, b]) {
        const rows = await query<{ n: number }>(
          db.url,
          `SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL`,
        );
        expect(rows[0].n).toBeGreaterThan(0);
      }
      await query(
        a.url,
        `INSERT INTO "AuditEvent" (actor, action, "subjectType", "subjectId") VALUES ('t', 't', 't', 't')`,
      );
      expect(await query(b.url, `SELECT 1 FROM "AuditEvent"`)).toEqual([]);
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
    expect(await exists(new URL(a.url).pathname.slice(1))).toBe(false);
  });

  it("gives an empty database when asked not to migrate", async () => {
    const db = await createTestDatabase({ migrated: false });
    try {
      const rows = await query(
        db.url,
        "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'",
      );
      expect(rows).toEqual([]);
    } finally {
      await db.drop();
    }
  });
});
