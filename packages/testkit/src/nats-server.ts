// Real nats-server processes for tests: single, custom-config (operator/JWT) and JetStream
// clusters, on free loopback ports, each with its own temp dir, never outliving the test run.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";
const HOST = "127.0.0.1";

/** What a config renderer gets; field names match `@edgefleet/bus` `ServerConfigOptions`. */
export interface NatsServerContext {
  host: string;
  port: number;
  httpPort: number;
  jetStreamDir: string;
  serverName: string;
  cluster?: { name: string; host: string; port: number; routes: string[] };
}

/**
 * Full config text with placeholders `{{host}}`, `{{port}}`, `{{http_port}}`, `{{store_dir}}`,
 * `{{server_name}}`, or a function of the allocated context (e.g. bus's `writeServerConfig`).
 */
export type NatsConfigSource = string | ((ctx: NatsServerContext) => string);

export interface StartNatsServerOptions {
  /** Enable JetStream in the default config (ignored when `config` is given). */
  jetstream?: boolean;
  config?: NatsConfigSource;
  startTimeoutMs?: number;
}

export interface NatsServerHandle {
  url: string;
  host: string;
  port: number;
  httpPort: number;
  dir: string;
  /** The running process's pid (a restart changes it). */
  readonly pid: number;
  /** Renders the server's log; handy in assertion messages. */
  logTail(lines?: number): Promise<string>;
  /** Kills the process (SIGKILL by default) and waits for it; the store dir and ports are kept. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports, config and store dir; resolves when it is ready. */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after 5 s), then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface NatsClusterHandle {
  urls: string[];
  servers: NatsServerHandle[];
  stop(): Promise<void>;
}

export class NatsServerStartError extends Error {
  override name = "NatsServerStartError";
}

// --- process bookkeeping: nothing may outlive the test process -----------------------------

const live = new Map<ChildProcess, string>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const [child, dir] of live) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once("exit", killAllSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      killAllSync();
      process.kill(process.pid, sig);
    });
  }
}

/** Even a SIGKILLed test process leaves no server: a tiny shell watches both pids. */
function spawnWatchdog(serverPid: number, dir: string): void {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${serverPid} 2>/dev/null; do sleep 1; done; kill -9 ${serverPid} 2>/dev/null; rm -rf '${dir}'`;
  const child = spawn("/bin/sh", ["-c", script], { detached: true, stdio: "ignore" });
  child.unref();
}

// --- ports and readiness ---------------------------------------------------------------------

/** Distinct free loopback ports, all held open together so none is handed out twice. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import("node:net").Server>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, HOST, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import("node:net").AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: HOST, port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

async function healthy(httpPort: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${HOST}:${httpPort}/healthz`);
    return res.ok;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- config ------------------------------------------------------------------------------------

function defaultConfig(ctx: NatsServerContext, jetstream: boolean): string {
  const lines = [
    `server_name: "${ctx.serverName}"`,
    `host: "${ctx.host}"`,
    `port: ${ctx.port}`,
    `http_port: ${ctx.httpPort}`,
  ];
  if (jetstream) lines.push(`jetstream: { store_dir: "${ctx.jetStreamDir}" }`);
  if (ctx.cluster) {
    const routes = ctx.cluster.routes.map((r) => `"${r}"`).join(", ");
    lines.push(
      `cluster: { name: "${ctx.cluster.name}", listen: "${ctx.cluster.host}:${ctx.cluster.port}", routes: [${routes}] }`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export function renderNatsConfig(source: NatsConfigSource, ctx: NatsServerContext): string {
  if (typeof source === "function") return source(ctx);
  const values: Record<string, string> = {
    host: ctx.host,
    port: String(ctx.port),
    http_port: String(ctx.httpPort),
    store_dir: ctx.jetStreamDir,
    server_name: ctx.serverName,
  };
  return source.replace(/\{\{\s*(\w+)\s*\}\}/g, (m, key: string) => values[key] ?? m);
}

// --- launching ---------------------------------------------------------------------------------

interface Launch {
  ctx: NatsServerContext;
  config: string;
  dir: string;
  timeoutMs: number;
  /** For clusters: healthz is only green once JetStream has a meta leader. */
  waitHealthz: boolean;
}

async function launch(l: Launch): Promise<NatsServerHandle> {
  if (!existsSync(NATS_SERVER_BIN)) {
    throw new NatsServerStartError(
      `${NATS_SERVER_BIN} not found: install it (Debian: apt-get install nats-server) or set NATS_SERVER_BIN`,
    );
  }
  installExitHooks();
  const confPath = join(l.dir, "nats.conf");
  const logPath = join(l.dir, "server.log");
  await writeFile(confPath, l.config, { mode: 0o600 });
  const logTail = async (lines = 30) => {
    const text = await readFile(logPath, "utf8").catch(() => "");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  };

  let child: ChildProcess;
  let exited: Promise<number | null>;
  const running = () => child.exitCode === null && child.signalCode === null;
  const spawnServer = async () => {
    child = spawn(NATS_SERVER_BIN, ["-c", confPath, "-l", logPath], { stdio: "ignore" });
    const self = child;
    live.set(self, l.dir);
    exited = new Promise<number | null>((resolve) => self.once("exit", resolve));
    self.once("exit", () => live.delete(self));
    if (self.pid) spawnWatchdog(self.pid, l.dir);

    const deadline = Date.now() + l.timeoutMs;
    let exitCode: number | null | undefined;
    void exited.then((c) => {
      exitCode = c;
    });
    while (Date.now() < deadline && exitCode === undefined) {
      const ready = l.waitHealthz ? await healthy(l.ctx.httpPort) : await tcpOpen(l.ctx.port);
      if (ready) return;
      await sleep(50);
    }
    const why =
      exitCode === undefined ? `not ready after ${l.timeoutMs} ms` : `exited (${exitCode})`;
    const tail = await logTail();
    await kill("SIGKILL");
    throw new NatsServerStartError(`nats-server on port ${l.ctx.port} ${why}; log tail:\n${tail}`);
  };
  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    if (!running()) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await kill("SIGTERM");
      await rm(l.dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const handle: NatsServerHandle = {
    url: `nats://${l.ctx.host}:${l.ctx.port}`,
    host: l.ctx.host,
    port: l.ctx.port,
    httpPort: l.ctx.httpPort,
    dir: l.dir,
    get pid() {
      return child.pid ?? -1;
    },
    logTail,
    kill,
    async restart() {
      await kill("SIGTERM");
      await spawnServer();
    },
    stop,
  };
  try {
    await spawnServer();
  } catch (err) {
    await rm(l.dir, { recursive: true, force: true });
    throw err;
  }
  return handle;
}

/** A config may name its own top-level ports (at column 0) instead of the allocated ones: believe it. */
function portsInConfig(config: string, ctx: NatsServerContext): NatsServerContext {
  const port = /^port\s*[:=]\s*(\d+)/m.exec(config)?.[1];
  const http = /^http_port\s*[:=]\s*(\d+)/m.exec(config)?.[1];
  return {
    ...ctx,
    port: port ? Number(port) : ctx.port,
    httpPort: http ? Number(http) : ctx.httpPort,
  };
}

async function newContext(serverName: string): Promise<{ ctx: NatsServerContext; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "ef-nats-"));
  const [port, httpPort] = await freePorts(2);
  const ctx = { host: HOST, port, httpPort, jetStreamDir: join(dir, "js"), serverName };
  return { ctx, dir };
}

/** One server on free loopback ports; its own temp dir; JetStream when asked. */
export async function startNatsServer(
  opts: StartNatsServerOptions = {},
): Promise<NatsServerHandle> {
  const { ctx, dir } = await newContext(`ef-test-${process.pid}-${Date.now()}`);
  const config = opts.config
    ? renderNatsConfig(opts.config, ctx)
    : defaultConfig(ctx, opts.jetstream ?? false);
  return launch({
    ctx: portsInConfig(config, ctx),
    config,
    dir,
    timeoutMs: opts.startTimeoutMs ?? 10_000,
    waitHealthz: /http_port|\bhttp\s*:/.test(config),
  });
}

/**
 * A server from a config renderer, typically the fleet's operator/JWT config:
 * `startNatsServerWithConfig((ctx) => writeServerConfig(auth, ctx))`.
 */
export function startNatsServerWithConfig(
  render: (ctx: NatsServerContext) => string,
  opts: Omit<StartNatsServerOptions, "config" | "jetstream"> = {},
): Promise<NatsServerHandle> {
  return startNatsServer({ ...opts, config: render });
}

export interface StartNatsClusterOptions {
  /** Renderer for each node; default: no auth, JetStream on. Must honour `ctx.cluster`. */
  config?: (ctx: NatsServerContext) => string;
  startTimeoutMs?: number;
}

/** A JetStream cluster with routes on loopback; resolves once every node reports healthy. */
export async function startNatsCluster(
  size = 3,
  opts: StartNatsClusterOptions = {},
): Promise<NatsClusterHandle> {
  const clusterName = `ef-test-${process.pid}-${Date.now()}`;
  const clusterPorts = await freePorts(size);
  const routes = clusterPorts.map((p) => `nats-route://${HOST}:${p}`);
  const render = opts.config ?? ((ctx: NatsServerContext) => defaultConfig(ctx, true));
  const nodes = await Promise.all(
    clusterPorts.map(async (clusterPort, i) => {
      const { ctx, dir } = await newContext(`n${i + 1}`);
      ctx.cluster = { name: clusterName, host: HOST, port: clusterPort, routes };
      return { ctx, dir };
    }),
  );
  const started = await Promise.allSettled(
    nodes.map(({ ctx, dir }) =>
      launch({
        ctx,
        dir,
        config: render(ctx),
        timeoutMs: opts.startTimeoutMs ?? 20_000,
        waitHealthz: true,
      }),
    ),
  );
  const servers = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    await stop();
    throw (failed as PromiseRejectedResult).reason;
  }
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  while (!(await metaGroupReady(servers.map((s) => s.httpPort)))) {
    if (Date.now() > deadline) {
      await stop();
      throw new NatsServerStartError("JetStream cluster's meta group not current in time");
    }
    await sleep(50);
  }
  return { urls: servers.map((s) => s.url), servers, stop };
}

interface MetaCluster {
  leader?: string;
  cluster_size?: number;
  replicas?: Array<{ name: string; current?: boolean; offline?: boolean }>;
}

/**
 * JetStream API calls time out until the meta group has a leader, and (2.9) an R3 stream create
 * fails ("error creating store for stream", seen on a loaded machine) until the leader has heard
 * from every peer: ready when every node knows the leader and the leader sees all its peers
 * current. A cluster without JetStream has no meta group and is ready.
 */
async function metaGroupReady(httpPorts: number[]): Promise<boolean> {
  const views = await Promise.all(
    httpPorts.map(async (port) => {
      try {
        const base = `http://${HOST}:${port}`;
        const jsz = (await (await fetch(`${base}/jsz`)).json()) as {
          disabled?: boolean;
          meta_cluster?: MetaCluster;
        };
        // 2.9's /jsz does not name its server; /varz does.
        const varz = (await (await fetch(`${base}/varz`)).json()) as { server_name?: string };
        return { ...jsz, name: varz.server_name };
      } catch {
        return undefined;
      }
    }),
  );
  if (views.some((v) => v === undefined)) return false;
  if (views.every((v) => v!.disabled === true || !v!.meta_cluster)) return true;
  if (!views.every((v) => v!.meta_cluster?.leader)) return false;
  const leader = views.find((v) => v!.name === v!.meta_cluster?.leader);
  const replicas = leader?.meta_cluster?.replicas;
  if (!replicas) return false;
  return (
    replicas.length === httpPorts.length - 1 &&
    replicas.every((r) => r.current === true && r.offline !== true)
  );
}
