import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

/** prisma/migrations at the repository root (this file is packages/db/src/migrator.ts). */
export const defaultMigrationsDir = fileURLToPath(
  new URL("../../../prisma/migrations", import.meta.url),
);

/**
 * The key `prisma migrate` itself locks on, so our migrator and Prisma's never run at once
 * against the same database.
 */
const ADVISORY_LOCK_KEY = 72707369;

export interface Migration {
  /** Directory name, e.g. `20261128220000_init`; applied in ascending order. */
  name: string;
  sql: string;
  /** sha256 hex of migration.sql, as Prisma records it. */
  checksum: string;
}

export interface MigrateOptions {
  log?: (message: string) => void;
  migrationsDir?: string;
  /** How long to wait for another migrator holding the lock (default 60 s). */
  lockTimeoutMs?: number;
}

export interface MigrateResult {
  /** Names of the migrations this call applied, in order; empty when up to date. */
  applied: string[];
}

export class MigrationChecksumError extends Error {
  override name = "MigrationChecksumError";
  constructor(
    readonly migration: string,
    readonly recorded: string,
    readonly actual: string,
  ) {
    super(
      `migration ${migration} was modified after it was applied (recorded checksum ${recorded}, file ${actual}); add a new migration instead of editing an applied one`,
    );
  }
}

export class MigrationFailedError extends Error {
  override name = "MigrationFailedError";
  constructor(
    readonly migration: string,
    options: { cause: unknown },
  ) {
    super(
      `migration ${migration} failed and was rolled back: ${messageOf(options.cause)}`,
      options,
    );
  }
}

/** A migration that a previous (non-transactional) Prisma run left half applied. */
export class MigrationIncompleteError extends Error {
  override name = "MigrationIncompleteError";
  constructor(readonly migration: string) {
    super(
      `migration ${migration} is recorded as started but not finished; resolve it by hand (prisma migrate resolve) before migrating again`,
    );
  }
}

export function checksum(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
}

export async function readMigrations(dir = defaultMigrationsDir): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: checksum(sql) };
    }),
  );
}

/** Identifies a set of migrations: changes whenever a migration is added, renamed or edited. */
export function migrationsFingerprint(migrations: Migration[]): string {
  const h = createHash("sha256");
  for (const m of migrations) h.update(`${m.name}\0${m.checksum}\n`);
  return h.digest("hex");
}

// Exactly the table `prisma migrate` creates, so the two tools read each other's records.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock.
 * Idempotent: a second run applies nothing.
 */
export async function migrate(
  databaseUrl: string,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const migrations = await readMigrations(options.migrationsDir);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`SET lock_timeout = ${Math.trunc(options.lockTimeoutMs ?? 60_000)}`);
    await client.query("SELECT pg_advisory_lock($1)", [ADVISORY_LOCK_KEY]);
    await client.query("SET lock_timeout = 0");
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      const pending = pendingMigrations(migrations, await appliedRows(client), log);
      const applied: string[] = [];
      for (const m of pending) {
        await applyOne(client, m);
        log(`applied migration ${m.name}`);
        applied.push(m.name);
      }
      return { applied };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [ADVISORY_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

async function appliedRows(client: pg.Client): Promise<AppliedRow[]> {
  const res = await client.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations"
     WHERE rolled_back_at IS NULL ORDER BY started_at`,
  );
  return res.rows;
}

/** Decides what to apply; throws when the recorded history and the files disagree. */
export function pendingMigrations(
  migrations: Migration[],
  rows: AppliedRow[],
  log: (message: string) => void = () => {},
): Migration[] {
  const byName = new Map(rows.map((r) => [r.migration_name, r]));
  const known = new Set(migrations.map((m) => m.name));
  for (const r of rows) {
    if (!known.has(r.migration_name)) {
      log(`migration ${r.migration_name} is applied in the database but has no local file`);
    }
  }
  const pending: Migration[] = [];
  for (const m of migrations) {
    const row = byName.get(m.name);
    if (!row) {
      pending.push(m);
      continue;
    }
    if (row.finished_at === null) throw new MigrationIncompleteError(m.name);
    if (row.checksum !== m.checksum) {
      throw new MigrationChecksumError(m.name, row.checksum, m.checksum);
    }
  }
  return pending;
}

async function applyOne(client: pg.Client, m: Migration): Promise<void> {
  await client.query("BEGIN");
  try {
    // Simple-protocol query: the whole file, several statements, in this transaction.
    await client.query(m.sql);
    await client.query(
      `INSERT INTO "_prisma_migrations"
         (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
      [randomUUID(), m.checksum, m.name],
    );
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw new MigrationFailedError(m.name, { cause: err });
  }
}

/** Creates the database that `url` names when it does not exist; returns whether it did. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name) throw new Error(`database URL names no database: ${redactUrl(url)}`);
  const admin = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await admin.connect();
  try {
    const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount) return false;
    try {
      await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
      return true;
    } catch (err) {
      // Another process created it between our check and our CREATE.
      if (isDuplicateDatabase(err)) return false;
      throw err;
    }
  } finally {
    await admin.end();
  }
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<invalid url>";
  }
}

function isDuplicateDatabase(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === "42P04" || code === "23505";
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
