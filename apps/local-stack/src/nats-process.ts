// Runs nats-server for the local stack with the fleet operator config, storing JetStream data
// under the stack's state dir so devices and streams survive a restart.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { type FleetAuth, writeServerConfig } from "@edgefleet/bus";
import { APT_INSTALL_NATS, APT_UPDATE, nextNatsServerStep } from "./nats-install";

export class NatsServerMissingError extends Error {
  override name = "NatsServerMissingError";
}

export const NATS_INSTALL_HINT = [
  "nats-server was not found. Install it, or point NATS_URL at a running server:",
  "  Debian/Ubuntu:  sudo apt-get install nats-server",
  "  macOS:          brew install nats-server",
  "  other:          download a release from the NATS project and put it on PATH,",
  "                  or set NATS_SERVER_BIN=/path/to/nats-server",
].join("\n");

const USUAL_PLACES = ["/usr/sbin/nats-server", "/usr/local/bin/nats-server"];

/** `bin` (a path, or a name on PATH), else the first of `fallbacks` that exists, else null. */
export function locateNatsServer(
  bin: string,
  fallbacks: readonly string[] = USUAL_PLACES,
  env: NodeJS.ProcessEnv = process.env,
): string | null {
  for (const candidate of [bin, ...fallbacks]) {
    if (candidate.includes("/") ? existsSync(candidate) : onPath(candidate, env)) return candidate;
  }
  return null;
}

function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  const probe = spawnSync("sh", ["-c", 'command -v "$1"', "sh", name], { env, stdio: "ignore" });
  return probe.status === 0;
}

export interface EnsureNatsServerOptions {
  /** Told what is about to change on the machine, before it changes. */
  log: (line: string) => void;
  fallbacks?: readonly string[];
  /** Default: the process's. */
  uid?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * The nats-server to run: found, or installed with apt where `nextNatsServerStep` allows (its
 * output streams to our terminal), or a NatsServerMissingError that says how to get one.
 */
export async function ensureNatsServer(
  bin: string,
  options: EnsureNatsServerOptions,
): Promise<string> {
  const env = options.env ?? process.env;
  const locate = () => locateNatsServer(bin, options.fallbacks, env);
  const step = nextNatsServerStep({
    found: locate(),
    uid: options.uid ?? process.getuid?.(),
    aptGet: onPath("apt-get", env),
  });
  if (step.action === "use") return step.bin;
  if (step.action === "explain") throw new NatsServerMissingError(NATS_INSTALL_HINT);

  options.log(`nats-server was not found; installing it: ${APT_INSTALL_NATS.join(" ")}`);
  if ((await runStreaming(APT_INSTALL_NATS, env)) !== 0) {
    options.log(`that failed; refreshing the package lists (${APT_UPDATE.join(" ")}) and retrying`);
    await runStreaming(APT_UPDATE, env);
    if ((await runStreaming(APT_INSTALL_NATS, env)) !== 0) {
      throw new NatsServerMissingError(
        `installing nats-server with apt-get failed (its output is above).\n${NATS_INSTALL_HINT}`,
      );
    }
  }
  const installed = locate();
  if (!installed) {
    throw new NatsServerMissingError(
      `apt-get installed nats-server, but no ${bin} is on PATH or in ${(options.fallbacks ?? USUAL_PLACES).join(", ")}.\n${NATS_INSTALL_HINT}`,
    );
  }
  return installed;
}

/** Exit code; a command that cannot even start counts as failed. */
function runStreaming([cmd, ...args]: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolveCode) => {
    const child = spawn(cmd ?? "", args, {
      env: { ...env, DEBIAN_FRONTEND: "noninteractive" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("error", () => resolveCode(-1));
    child.once("close", (code) => resolveCode(code ?? -1));
  });
}

export interface RunningNats {
  url: string;
  configPath: string;
  stop(): Promise<void>;
}

export async function startNats(opts: {
  bin: string;
  auth: FleetAuth;
  dir: string;
  port: number;
}): Promise<RunningNats> {
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const configPath = join(dir, "nats-server.conf");
  const config = writeServerConfig(opts.auth, {
    host: "127.0.0.1",
    port: opts.port,
    jetStreamDir: join(dir, "jetstream"),
  });
  await writeFile(configPath, config, { mode: 0o600 });
  const log = createWriteStream(join(dir, "nats-server.log"), { flags: "a" });
  const child: ChildProcess = spawn(opts.bin, ["-c", configPath], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // stopped by the stack after the agents and the control plane
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  // Backstop: an exit that skips our ordered stop (a crash, a stray process.exit) would leave
  // this detached child running.
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);
  await waitForPort(opts.port, exited, join(dir, "nats-server.log"));
  return {
    url: `nats://127.0.0.1:${opts.port}`,
    configPath,
    async stop() {
      process.off("exit", killOnExit);
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function waitForPort(port: number, exited: Promise<number | null>, logPath: string) {
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`nats-server exited during start; see ${logPath}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nats-server did not listen on port ${port} within 10 s; see ${logPath}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once("error", () => resolvePromise(false));
  });
}
