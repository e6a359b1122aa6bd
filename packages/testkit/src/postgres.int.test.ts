import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createTestDatabase, type DatabaseTemplate, testServerUrl } from "./postgres";

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
  it("clones each caller its own database from a template built once, and drop removes it", async () => {
    // A fingerprint of its own: the template is built by this run, not found from an earlier one.
    const migrated: string[] = [];
    const template: DatabaseTemplate = {
      fingerprint: `testkit-self-test-${randomBytes(6).toString("hex")}`,
      async migrate(url) {
        migrated.push(url);
        await query(url, "CREATE TABLE note (v text)");
      },
    };
    const [a, b] = await Promise.all([
      createTestDatabase({ template }),
      createTestDatabase({ template }),
    ]);
    try {
      expect(migrated).toHaveLength(1);
      expect(a.url).not.toBe(b.url);
      expect(a.template).toBe(b.template);
      await query(a.url, "INSERT INTO note VALUES ('only in a')");
      expect(await query(b.url, "SELECT v FROM note")).toEqual([]);
    } finally {
      await Promise.all([a.drop(), b.drop()]);
      await query(await testServerUrl(), `ALTER DATABASE "${a.template}" IS_TEMPLATE false`);
      await query(await testServerUrl(), `DROP DATABASE "${a.template}"`);
    }
    expect(await exists(new URL(a.url).pathname.slice(1))).toBe(false);
  });

  it("gives an empty database without a template", async () => {
    const db = await createTestDatabase();
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
