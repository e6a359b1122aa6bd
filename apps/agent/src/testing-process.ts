// Test fixture: the bundled agent (dist/agent.mjs, as a device runs it) as a real process, for
// tests that SIGKILL, restart or starve it. Built on testkit's `startProcess`; its output is
// captured for failures' messages. For *.int.test.ts and *.fault.test.ts files only.
import { execFileSync } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestControlPlane } from "@edgefleet/control-plane/testing";
import { type ProcessHandle, startProcess, until } from "@edgefleet/testkit";

const agentDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = join(agentDir, "..", "..");
export const agentBundle = join(agentDir, "dist", "agent.mjs");

/** Newest modification time of the agent's bundled sources (its own and the packages'). */
async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === "node_modules" || entry.name === "dist") continue;
      newest = Math.max(newest, await newestSource(path));
    } else if (/\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) {
      newest = Math.max(newest, (await stat(path)).mtimeMs);
    }
  }
  return newest;
}

/** Builds dist/agent.mjs (`npm run build`) when a source is newer than it. */
export async function ensureAgentBundle(): Promise<void> {
  const built = await stat(agentBundle).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const sources = [join(agentDir, "src")];
  for (const pkg of await readdir(join(repoRoot, "packages")))
    sources.push(join(repoRoot, "packages", pkg, "src"));
  const newest = Math.max(
    ...(await Promise.all(sources.map((d) => newestSource(d).catch(() => 0)))),
  );
  // A failed build throws with its stderr in the message.
  if (built < newest) execFileSync("npm", ["run", "build"], { cwd: agentDir });
}

export interface AgentProcessSpec {
  name: string;
  controlPlaneGrpc: string;
  /** Reused across restarts: the identity, desired state and artifacts live there. */
  dataDir: string;
  /** Needed only on the first start (no identity in the data dir yet). */
  token?: string;
  /** More environment (SIMULATED_CLASS, CALIBRATION_DATA, LOCAL_API_PORT, ...), over the defaults. */
  env?: Record<string, string>;
}

export interface AgentProcess {
  name: string;
  dataDir: string;
  process: ProcessHandle;
  /** From its "enrolled" / "reusing stored identity" log line. */
  deviceId: string;
  /** Its local HTTP inference API, e.g. http://127.0.0.1:41234. */
  localUrl: string;
  alive(): boolean;
}

/**
 * Starts the bundled agent and resolves once its local API listens (it serves its stored variant
 * from then on, with or without a network). Call `ensureAgentBundle()` first.
 */
export async function startAgentProcess(spec: AgentProcessSpec): Promise<AgentProcess> {
  const handle = await startProcess({
    name: spec.name,
    command: process.execPath,
    args: ["--max-semi-space-size=1", agentBundle],
    env: {
      PATH: process.env.PATH ?? "",
      CONTROL_PLANE_GRPC: spec.controlPlaneGrpc,
      ...(spec.token ? { ENROLLMENT_TOKEN: spec.token } : {}),
      DATA_DIR: spec.dataDir,
      DEVICE_NAME: spec.name,
      LABELS: "test=processes",
      INFERENCE_THREADS: "1",
      LOCAL_API_PORT: "0",
      LOCAL_GRPC_PORT: "",
      TELEMETRY_INTERVAL_MS: "60000",
      LOG_LEVEL: "info",
      ...spec.env,
    },
    ready: /local inference API listening/,
    readyTimeoutMs: 60_000,
  });
  const identityLine = await handle.waitFor(/"deviceId":"[^"]+"/, 1_000);
  const listening = await handle.waitFor(/local inference API listening/, 1_000);
  return {
    name: spec.name,
    dataDir: spec.dataDir,
    process: handle,
    deviceId: (JSON.parse(identityLine) as { deviceId: string }).deviceId,
    localUrl: (JSON.parse(listening) as { http: string }).http,
    alive: () => handle.child.exitCode === null && handle.child.signalCode === null,
  };
}

/** Waits until the process's device is online in the control plane with a profile stored. */
export async function waitOnline(
  cp: Pick<TestControlPlane, "api">,
  agent: AgentProcess,
  timeoutMs = 60_000,
): Promise<void> {
  await until(
    `${agent.name} online with a profile`,
    async () => {
      if (!agent.alive())
        throw new Error(`${agent.name} exited:\n${agent.process.output().slice(-4000)}`);
      const d = await cp.api(`/api/v1/devices/${agent.deviceId}`);
      if (d.body.status !== "online") return undefined;
      const profile = await cp.api(`/api/v1/devices/${agent.deviceId}/profile`);
      return profile.status === 200 ? true : undefined;
    },
    timeoutMs,
    200,
  );
}
