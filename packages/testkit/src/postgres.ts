import { createHash, randomBytes } from "node:crypto";
import pg from "pg";

/**
 * A fresh database for one test file, cloned (`CREATE DATABASE … TEMPLATE`) from a template
 * that is built once per schema, so a clone costs tens of milliseconds instead of a migration.
 * testkit knows nothing of any schema: the caller describes it (`@edgefleet/db/testing` does
 * for the fleet's), which keeps testkit free of the packages whose tests use it.
 *
 * Server choice, first match wins:
 * - `EDGEFLEET_TEST_POSTGRES=local|docker` forces one;
 * - `DATABASE_URL` set: its server (never its database);
 * - postgresql://postgres@127.0.0.1:5432 when it accepts a connection;
 * - a Docker engine that answers: one `@testcontainers/postgresql` container per process.
 */
export interface TestDatabase {
  url: string;
  /** The database this one was cloned from. */
  template: string;
  drop(): Promise<void>;
}

/** A schema to clone test databases from. */
export interface DatabaseTemplate {
  /** Changes whenever the schema does (e.g. a digest of the migration files). */
  fingerprint: string;
  /** Brings the empty database at `url` to the schema. */
  migrate(url: string): Promise<void>;
}

const LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres";
const TEMPLATE_LOCK_KEY = 0x4546_7470; // "EFtp"
/** Test databases left behind by crashed runs are removed after this long. */
const STALE_AFTER_MS = 6 * 3600_000;
const PREFIX = "ef_test_";

let serverPromise: Promise<string> | undefined;
const templates = new Map<string, Promise<string>>();

export interface CreateTestDatabaseOptions {
  /** Omitted: an empty database (for testing migrations themselves). */
  template?: DatabaseTemplate;
}

export async function createTestDatabase(
  options: CreateTestDatabaseOptions = {},
): Promise<TestDatabase> {
  const server = await testServerUrl();
  const template = options.template ? await ensureTemplate(server, options.template) : "template1";
  const name = `${PREFIX}${Date.now()}_${randomBytes(4).toString("hex")}`;
  await withClient(server, (c) =>
    retryInUse(() =>
      c.query(
        `CREATE DATABASE ${c.escapeIdentifier(name)} TEMPLATE ${c.escapeIdentifier(template)}`,
      ),
    ),
  );
  return {
    url: withDatabase(server, name),
    template,
    drop: () =>
      withClient(server, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
      }),
  };
}

/** The server test databases are created on (a URL of its `postgres` database). */
export function testServerUrl(): Promise<string> {
  serverPromise ??= chooseServer();
  return serverPromise;
}

async function chooseServer(): Promise<string> {
  const forced = process.env.EDGEFLEET_TEST_POSTGRES;
  const configured = process.env.DATABASE_URL;
  if (forced === "docker") return startContainer();
  if (configured) return withDatabase(configured, "postgres");
  if (forced === "local" || (await canConnect(LOCAL_SERVER))) return LOCAL_SERVER;
  if (await dockerAnswers()) return startContainer();
  throw new Error(
    `no PostgreSQL for tests: nothing accepts connections at ${LOCAL_SERVER}, DATABASE_URL is unset and no Docker engine answers`,
  );
}

async function canConnect(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Without a Docker engine testcontainers rejects within milliseconds; the timeout caps the rest. */
async function dockerAnswers(timeoutMs = 1500): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
    });
    try {
      await Promise.race([getContainerRuntimeClient(), timeout]);
      return true;
    } finally {
      clearTimeout(timer);
    }
  } catch {
    return false;
  }
}

async function startContainer(): Promise<string> {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  // Reuse lets every vitest worker share one container instead of starting its own.
  const container = await new PostgreSqlContainer("postgres:15-alpine").withReuse().start();
  return withDatabase(container.getConnectionUri(), "postgres");
}

function ensureTemplate(server: string, template: DatabaseTemplate): Promise<string> {
  const key = `${server}\n${template.fingerprint}`;
  let p = templates.get(key);
  if (!p) {
    p = buildTemplate(server, template);
    templates.set(key, p);
    p.catch(() => templates.delete(key));
  }
  return p;
}

/**
 * Creates the migrated template once per migration set. Parallel workers and processes serialise
 * on an advisory lock; the template is built under a scratch name and renamed when complete, so
 * a crash mid-build never leaves a half-migrated template behind.
 */
async function buildTemplate(server: string, schema: DatabaseTemplate): Promise<string> {
  // Hashed: a fingerprint may be any string, a database name may not.
  const digest = createHash("sha256").update(schema.fingerprint).digest("hex").slice(0, 16);
  const template = `ef_tpl_${digest}`;
  const scratch = `${template}_build`;
  await withClient(server, async (c) => {
    await c.query("SELECT pg_advisory_lock($1)", [TEMPLATE_LOCK_KEY]);
    try {
      if (await databaseExists(c, template)) return;
      await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(scratch)} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${c.escapeIdentifier(scratch)}`);
      await schema.migrate(withDatabase(server, scratch));
      await c.query(
        `ALTER DATABASE ${c.escapeIdentifier(scratch)} RENAME TO ${c.escapeIdentifier(template)}`,
      );
      await c.query(`ALTER DATABASE ${c.escapeIdentifier(template)} IS_TEMPLATE true`);
      await dropStaleTestDatabases(c);
    } catch (err) {
      throw new Error(`building test template ${template} on ${new URL(server).host} failed`, {
        cause: err,
      });
    } finally {
      await c.query("SELECT pg_advisory_unlock($1)", [TEMPLATE_LOCK_KEY]);
    }
  });
  return template;
}

async function dropStaleTestDatabases(c: pg.Client): Promise<void> {
  const res = await c.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE $1",
    [`${PREFIX}%`],
  );
  const cutoff = Date.now() - STALE_AFTER_MS;
  for (const { datname } of res.rows) {
    const createdMs = Number(datname.slice(PREFIX.length).split("_")[0]);
    if (Number.isFinite(createdMs) && createdMs < cutoff) {
      await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(datname)} WITH (FORCE)`);
    }
  }
}

async function databaseExists(c: pg.Client, name: string): Promise<boolean> {
  const res = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  return (res.rowCount ?? 0) > 0;
}

function withDatabase(server: string, database: string): string {
  const u = new URL(server);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** CREATE DATABASE … TEMPLATE fails with 55006 while anything is connected to the template. */
async function retryInUse<T>(fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: string }).code !== "55006" || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 50 * i));
    }
  }
}
