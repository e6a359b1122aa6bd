import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  defaultMigrationsDir,
  ensureDatabase,
  MigrationChecksumError,
  MigrationFailedError,
  migrate,
  readMigrations,
  withDatabase,
} from "./migrator";
import { createTestDatabase, type TestDatabase } from "./testing";

// One empty database for the file; each test migrates its own schema (a database per test
// would cost a CREATE + DROP DATABASE, about a second each on a busy machine).
let server: TestDatabase;
let dir: string;
let url: string;
let schemas = 0;

beforeAll(async () => {
  server = await createTestDatabase({ migrated: false });
});

afterAll(() => server?.drop());

beforeEach(async () => {
  const schema = `m${++schemas}`;
  await query(`CREATE SCHEMA ${schema}`, server.url);
  url = `${server.url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  dir = await mkdtemp(join(tmpdir(), "ef-migrations-"));
  await cp(defaultMigrationsDir, dir, { recursive: true });
});

afterEach(() => rm(dir, { recursive: true, force: true }));

async function query<T extends pg.QueryResultRow>(sql: string, to = url): Promise<T[]> {
  const c = new pg.Client({ connectionString: to });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

async function addMigration(name: string, sql: string): Promise<void> {
  await mkdir(join(dir, name));
  await writeFile(join(dir, name, "migration.sql"), sql);
}

describe("migrate", () => {
  it("applies every migration to a fresh database, then nothing on the second run", async () => {
    const files = await readMigrations(dir);
    const first = await migrate(url, { migrationsDir: dir });
    expect(first.applied).toEqual(files.map((f) => f.name));
    const second = await migrate(url, { migrationsDir: dir });
    expect(second.applied).toEqual([]);

    const rows = await query<{ migration_name: string; checksum: string; steps: number }>(
      `SELECT migration_name, checksum, applied_steps_count AS steps FROM _prisma_migrations
       WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name`,
    );
    expect(rows).toEqual(
      files.map((f) => ({ migration_name: f.name, checksum: f.checksum, steps: 1 })),
    );
    const tables = await query<{ n: string }>(
      `SELECT count(*)::text AS n FROM information_schema.tables
       WHERE table_schema = current_schema() AND table_name IN ('Device', 'EnrollmentToken', 'ApiToken')`,
    );
    expect(tables[0].n).toBe("3");
  });

  it("applies a migration added later, and only that one", async () => {
    await migrate(url, { migrationsDir: dir });
    await addMigration("99990101000000_extra", 'CREATE TABLE "Extra" ("id" INTEGER PRIMARY KEY);');
    expect((await migrate(url, { migrationsDir: dir })).applied).toEqual(["99990101000000_extra"]);
  });

  it("refuses to run when an applied migration's file was edited", async () => {
    await migrate(url, { migrationsDir: dir });
    const [first] = await readMigrations(dir);
    await writeFile(join(dir, first.name, "migration.sql"), `${first.sql}\n-- edited\n`);
    await expect(migrate(url, { migrationsDir: dir })).rejects.toBeInstanceOf(
      MigrationChecksumError,
    );
  });

  it("rolls a failing migration back entirely and records nothing", async () => {
    await migrate(url, { migrationsDir: dir });
    await addMigration(
      "99990101000000_broken",
      'CREATE TABLE "HalfWay" ("id" INTEGER);\nSELECT no_such_function();',
    );
    await expect(migrate(url, { migrationsDir: dir })).rejects.toBeInstanceOf(MigrationFailedError);
    const leftovers = await query(
      `SELECT 1 FROM information_schema.tables
       WHERE table_schema = current_schema() AND table_name = 'HalfWay'
       UNION ALL SELECT 1 FROM _prisma_migrations WHERE migration_name = '99990101000000_broken'`,
    );
    expect(leftovers).toEqual([]);
  });

  it("serialises concurrent runs: each migration is applied exactly once", async () => {
    const files = await readMigrations(dir);
    const runs = await Promise.all([1, 2, 3].map(() => migrate(url, { migrationsDir: dir })));
    expect(runs.flatMap((r) => r.applied).sort()).toEqual(files.map((f) => f.name));
    const rows = await query<{ n: string }>("SELECT count(*)::text AS n FROM _prisma_migrations");
    expect(rows[0].n).toBe(String(files.length));
  });

  it("creates _prisma_migrations exactly as Prisma does", async () => {
    await migrate(url, { migrationsDir: dir });
    const cols = await query(
      `SELECT column_name, data_type, character_maximum_length AS len, is_nullable, column_default
       FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = '_prisma_migrations'
       ORDER BY ordinal_position`,
    );
    expect(cols).toEqual([
      {
        column_name: "id",
        data_type: "character varying",
        len: 36,
        is_nullable: "NO",
        column_default: null,
      },
      {
        column_name: "checksum",
        data_type: "character varying",
        len: 64,
        is_nullable: "NO",
        column_default: null,
      },
      {
        column_name: "finished_at",
        data_type: "timestamp with time zone",
        len: null,
        is_nullable: "YES",
        column_default: null,
      },
      {
        column_name: "migration_name",
        data_type: "character varying",
        len: 255,
        is_nullable: "NO",
        column_default: null,
      },
      {
        column_name: "logs",
        data_type: "text",
        len: null,
        is_nullable: "YES",
        column_default: null,
      },
      {
        column_name: "rolled_back_at",
        data_type: "timestamp with time zone",
        len: null,
        is_nullable: "YES",
        column_default: null,
      },
      {
        column_name: "started_at",
        data_type: "timestamp with time zone",
        len: null,
        is_nullable: "NO",
        column_default: "now()",
      },
      {
        column_name: "applied_steps_count",
        data_type: "integer",
        len: null,
        is_nullable: "NO",
        column_default: "0",
      },
    ]);
    const pk = await query(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a
         ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = '"_prisma_migrations"'::regclass AND i.indisprimary`,
    );
    expect(pk).toEqual([{ attname: "id" }]);
  });
});

describe("ensureDatabase", () => {
  it("creates a missing database once", async () => {
    const name = `${new URL(server.url).pathname.slice(1)}_extra`;
    const extra = withDatabase(server.url, name);
    try {
      expect(await ensureDatabase(extra)).toBe(true);
      expect(await ensureDatabase(extra)).toBe(false);
      expect(await query<{ one: number }>("SELECT 1 AS one", extra)).toEqual([{ one: 1 }]);
    } finally {
      await query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`, server.url);
    }
  });
});
