// Test fixture (for *.int.test.ts in other packages): a control plane on a fresh Postgres
// database and its own operator-mode nats-server, all real, on loopback ports.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrCreateFleetAuth, writeServerConfig } from "@edgefleet/bus";
import { createTestDatabase, type TestDatabase } from "@edgefleet/db/testing";
import { type NatsServerHandle, startNatsServerWithConfig } from "@edgefleet/testkit";
import { pino } from "pino";
import { type ControlPlane, startControlPlane } from "./control-plane";

export const silentLogger = pino({ level: "silent" });

export interface TestControlPlane {
  cp: ControlPlane;
  db: TestDatabase;
  nats: NatsServerHandle;
  stateDir: string;
  adminToken: string;
  api(
    path: string,
    init?: RequestInit & { token?: string },
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export async function startTestControlPlane(): Promise<TestControlPlane> {
  const db = await createTestDatabase();
  const stateDir = await mkdtemp(join(tmpdir(), "ef-cp-"));
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
  return {
    cp,
    db,
    nats,
    stateDir,
    adminToken,
    async api(path, init = {}) {
      const res = await fetch(`${cp.httpUrl}${path}`, {
        ...init,
        headers: {
          "content-type": "application/json",
          ...(init.token !== "" ? { authorization: `Bearer ${init.token ?? adminToken}` } : {}),
        },
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async stop() {
      await cp.stop();
      await nats.stop();
      await db.drop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
