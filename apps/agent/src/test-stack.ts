// Test fixture: a control plane on a fresh Postgres database and its own operator-mode
// nats-server, all real, on loopback ports. For *.int.test.ts files only.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrCreateFleetAuth, writeServerConfig } from "@edgefleet/bus";
import { type ControlPlane, startControlPlane } from "@edgefleet/control-plane";
import type { HardwareFactsJson } from "@edgefleet/protocol";
import {
  createTestDatabase,
  type NatsServerHandle,
  startNatsServerWithConfig,
  type TestDatabase,
} from "@edgefleet/testkit";
import { pino } from "pino";
import type { AgentConfig } from "./agent";
import { deviceRuntime } from "./device-runtime";

export const silentLogger = pino({ level: "silent" });

export const rpiFacts: HardwareFactsJson = {
  arch: "arm64",
  cores: 4,
  ramTotalBytes: 4 * 2 ** 30,
  ramFreeBytes: 2 * 2 ** 30,
  cpuModel: "Cortex-A72",
  cpuFlags: ["neon", "asimd"],
  accelerators: [],
  os: "linux",
  simulated: true,
  deviceClass: "rpi4",
};

export interface TestStack {
  cp: ControlPlane;
  db: TestDatabase;
  nats: NatsServerHandle;
  adminToken: string;
  api(
    path: string,
    init?: RequestInit & { token?: string },
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  newEnrollmentToken(maxUses?: number): Promise<string>;
  agentConfig(dataDir: string, token?: string): AgentConfig;
  newDataDir(): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestStack(): Promise<TestStack> {
  const db = await createTestDatabase();
  const stateDir = await mkdtemp(join(tmpdir(), "ef-cp-"));
  const dirs = [stateDir];
  const auth = await loadOrCreateFleetAuth(stateDir);
  const nats = await startNatsServerWithConfig((ctx) => writeServerConfig(auth, ctx));
  const cp = await startControlPlane({
    databaseUrl: db.url,
    natsUrl: nats.url,
    natsAuth: true,
    stateDir,
    httpHost: "127.0.0.1",
    httpPort: 0,
    grpcHost: "127.0.0.1",
    grpcPort: 0,
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: 1000,
    logger: silentLogger,
  });
  const adminToken = (await readFile(cp.adminTokenPath, "utf8")).trim();
  // One thread and short rounds: real measurements, kept brief on a shared test machine.
  const runtime = deviceRuntime({
    threads: 1,
    simulatedClass: "rpi4",
    microbench: { rounds: 2, runsPerRound: 2, dramBytes: 16 * 2 ** 20 },
  });

  const api: TestStack["api"] = async (path, init = {}) => {
    const res = await fetch(`${cp.httpUrl}${path}`, {
      ...init,
      headers: {
        "content-type": "application/json",
        ...(init.token !== "" ? { authorization: `Bearer ${init.token ?? adminToken}` } : {}),
      },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  return {
    cp,
    db,
    nats,
    adminToken,
    api,
    async newEnrollmentToken(maxUses = 1) {
      const res = await api("/api/v1/enrollment-tokens", {
        method: "POST",
        body: JSON.stringify({ label: "test", maxUses, expiresInSeconds: 600 }),
      });
      if (res.status !== 201) throw new Error(`enrollment token: HTTP ${res.status}`);
      return res.body.token as string;
    },
    agentConfig(dataDir, token) {
      return {
        dataDir,
        controlPlaneGrpc: cp.grpcAddress,
        enrollmentToken: token,
        name: "pi-1",
        labels: { site: "lab" },
        agentVersion: "0.1.0-test",
        runtime: { ...runtime, readFacts: async () => rpiFacts },
        logger: silentLogger,
      };
    },
    async newDataDir() {
      const dir = await mkdtemp(join(tmpdir(), "ef-agent-"));
      dirs.push(dir);
      return dir;
    },
    async stop() {
      await cp.stop();
      await nats.stop();
      await db.drop();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
