// A private PostgreSQL server for fault tests: its own cluster, port and socket dir, so a test can
// stop and restart it (fast, immediate) without touching the shared server on 5432. Runs the
// Debian binaries as the OS user `postgres` (postgres refuses to run as root).
import { execFile } from "node:child_process";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePorts } from "./nats-server";

const run = promisify(execFile);

export const POSTGRES_BIN_DIR = process.env.POSTGRES_BIN_DIR ?? "/usr/lib/postgresql/15/bin";

export type PostgresStopMode = "smart" | "fast" | "immediate";

export interface PrivatePostgres {
  port: number;
  /** URL of database `name` on this server. */
  url(name?: string): string;
  createDatabase(name: string): Promise<string>;
  /** Stops the server (pg_ctl -m mode); `start` brings it back on the same port and data. */
  stopServer(mode: PostgresStopMode): Promise<void>;
  startServer(): Promise<void>;
  /** Stops, removes the cluster. */
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error("no free port");
  const dir = await mkdtemp(join(tmpdir(), "ef-pg-"));
  const asRoot = userInfo().uid === 0;
  const pgUser = asRoot ? await osUser("postgres") : undefined;
  if (pgUser) await chown(dir, pgUser.uid, pgUser.gid);
  const dataDir = join(dir, "data");
  const as = (bin: string, args: string[]) =>
    asRoot
      ? run("runuser", ["-u", "postgres", "--", join(POSTGRES_BIN_DIR, bin), ...args])
      : run(join(POSTGRES_BIN_DIR, bin), args);
  await as("initdb", ["-D", dataDir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const startServer = async () => {
    await as("pg_ctl", [
      "-D",
      dataDir,
      "-o",
      opts,
      "-l",
      join(dir, "log"),
      "-w",
      "-t",
      "30",
      "start",
    ]);
  };
  const stopServer = async (mode: PostgresStopMode) => {
    await as("pg_ctl", ["-D", dataDir, "-m", mode, "-w", "-t", "30", "stop"]);
  };
  await startServer();
  const url = (name = "postgres") => `postgresql://postgres@127.0.0.1:${port}/${name}`;
  return {
    port,
    url,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    stopServer,
    startServer,
    async destroy() {
      await stopServer("immediate").catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([
    run("id", ["-u", name]).then((r) => Number(r.stdout.trim())),
    run("id", ["-g", name]).then((r) => Number(r.stdout.trim())),
  ]);
  return { uid, gid };
}
