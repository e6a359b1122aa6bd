// The thin path through every real part: gRPC enrollment, the device's own NATS identity on a
// nats-server in operator mode, Postgres through Prisma, REST and the WebSocket stream.
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrCreateFleetAuth, writeServerConfig } from "@edgefleet/bus";
import { type ControlPlane, startControlPlane } from "@edgefleet/control-plane";
import { createPrisma, createRepos } from "@edgefleet/db";
import {
  EnrollmentServiceClient,
  EnrollRequest,
  type FleetEvent,
  type HardwareFactsJson,
} from "@edgefleet/protocol";
import {
  createTestDatabase,
  type NatsServerHandle,
  startNatsServerWithConfig,
  type TestDatabase,
} from "@edgefleet/testkit";
import { credentials, status } from "@grpc/grpc-js";
import { createUser } from "@nats-io/nkeys";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type AgentConfig, MissingEnrollmentTokenError, startAgent } from "./agent";
import { EnrollmentRefusedError } from "./enroll-client";

const logger = pino({ level: "silent" });
const facts: HardwareFactsJson = {
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

let db: TestDatabase;
let nats: NatsServerHandle;
let cp: ControlPlane;
let stateDir: string;
let adminToken: string;
const wsEvents: FleetEvent[] = [];
let ws: WebSocket;

async function api(path: string, init: RequestInit & { token?: string } = {}) {
  const res = await fetch(`${cp.httpUrl}${path}`, {
    ...init,
    headers: {
      "content-type": "application/json",
      ...(init.token !== "" ? { authorization: `Bearer ${init.token ?? adminToken}` } : {}),
    },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function newEnrollmentToken(maxUses = 1): Promise<string> {
  const res = await api("/api/v1/enrollment-tokens", {
    method: "POST",
    body: JSON.stringify({ label: "test", maxUses, expiresInSeconds: 600 }),
  });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

function agentConfig(dataDir: string, token?: string): AgentConfig {
  return {
    dataDir,
    controlPlaneGrpc: cp.grpcAddress,
    enrollmentToken: token,
    name: "pi-1",
    labels: { site: "lab" },
    agentVersion: "0.1.0-test",
    readFacts: async () => facts,
    logger,
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  stateDir = await mkdtemp(join(tmpdir(), "ef-cp-"));
  const auth = await loadOrCreateFleetAuth(stateDir);
  nats = await startNatsServerWithConfig((ctx) => writeServerConfig(auth, ctx));
  cp = await startControlPlane({
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
    logger,
  });
  adminToken = (await readFile(cp.adminTokenPath, "utf8")).trim();
  ws = new WebSocket(`${cp.httpUrl.replace("http", "ws")}/api/v1/stream`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  ws.on("message", (data) => wsEvents.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
}, 30_000);

afterAll(async () => {
  ws?.close();
  await cp?.stop();
  await nats?.stop();
  await db?.drop();
  await rm(stateDir, { recursive: true, force: true });
});

describe("thin path", () => {
  it("writes the admin token readable by its owner only", async () => {
    expect((await stat(cp.adminTokenPath)).mode & 0o777).toBe(0o600);
  });

  it("enrolls, reports, goes offline when killed, and keeps its identity on restart", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "ef-agent-"));
    const token = await newEnrollmentToken();
    const first = await startAgent(agentConfig(dataDir, token));
    expect(first.enrolled).toBe(true);
    expect((await stat(join(dataDir, "device.nk"))).mode & 0o777).toBe(0o600);

    const online = await until("device online", async () => {
      const res = await api(`/api/v1/devices/${first.deviceId}`);
      return res.body.status === "online" && res.body.cpuModel === "Cortex-A72" ? res : undefined;
    });
    expect(online.body).toMatchObject({
      name: "pi-1",
      arch: "arm64",
      cores: 4,
      cpuFlags: ["neon", "asimd"],
      simulated: true,
      deviceClass: "rpi4",
      labels: { site: "lab" },
    });
    expect(Date.now() - Date.parse(online.body.lastSeenAt as string)).toBeLessThan(5000);

    // A crash: the connection drops with no goodbye. The heartbeat timeout notices.
    await first.nc.close();
    await until("device offline", async () => {
      const res = await api(`/api/v1/devices/${first.deviceId}`);
      return res.body.status === "offline" ? res : undefined;
    });
    await until("offline event on the stream", async () =>
      wsEvents.find((e) => e.type === "device.offline" && e.deviceId === first.deviceId),
    );

    const second = await startAgent(agentConfig(dataDir));
    expect(second.enrolled).toBe(false);
    expect(second.deviceId).toBe(first.deviceId);
    await until("device online again", async () => {
      const res = await api(`/api/v1/devices/${first.deviceId}`);
      return res.body.status === "online" ? res : undefined;
    });
    const list = await api("/api/v1/devices?limit=10");
    expect(list.body.total).toBe(1);
    await until("online event on the stream", async () =>
      wsEvents.find((e) => e.type === "device.online" && e.deviceId === first.deviceId),
    );
    expect(
      wsEvents.some((e) => e.type === "device.enrolled" && e.deviceId === first.deviceId),
    ).toBe(true);
    await second.stop();
  }, 20_000);

  it("refuses a reused enrollment token and changes nothing", async () => {
    const token = await newEnrollmentToken(1);
    const ok = await startAgent(agentConfig(await mkdtemp(join(tmpdir(), "ef-agent-")), token));
    const before = (await api("/api/v1/devices")).body.total;
    await expect(
      startAgent(agentConfig(await mkdtemp(join(tmpdir(), "ef-agent-")), token)),
    ).rejects.toThrow(EnrollmentRefusedError);
    expect((await api("/api/v1/devices")).body.total).toBe(before);
    await ok.stop();
  });

  it("refuses an expired enrollment token", async () => {
    const prisma = createPrisma(db.url);
    const { secret } = await createRepos(prisma).enrollmentTokens.create({
      label: "old",
      expiresAt: new Date(Date.now() - 1000),
      maxUses: 5,
    });
    await prisma.$disconnect();
    await expect(
      startAgent(agentConfig(await mkdtemp(join(tmpdir(), "ef-agent-")), secret)),
    ).rejects.toThrow(/expired/);
  });

  it("needs a token when no identity is stored", async () => {
    await expect(
      startAgent(agentConfig(await mkdtemp(join(tmpdir(), "ef-agent-")))),
    ).rejects.toThrow(MissingEnrollmentTokenError);
  });
});

describe("REST input and auth", () => {
  it.each([
    [{ maxUses: "many" }, "maxUses"],
    [{ maxUses: 0 }, "maxUses"],
    [{ expiresInSeconds: 10 }, "expiresInSeconds"],
    [{ label: "" }, "label"],
  ])("POST enrollment-tokens %j -> 400 naming %s", async (body, field) => {
    const res = await api("/api/v1/enrollment-tokens", {
      method: "POST",
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_argument", field });
  });

  it("400 on a body that is not JSON, with no stack trace", async () => {
    const res = await api("/api/v1/enrollment-tokens", { method: "POST", body: "{nope" });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it.each([
    ["", 401],
    ["not-a-token", 401],
  ])("token %j -> %i", async (token, status) => {
    expect((await api("/api/v1/devices", { token })).status).toBe(status);
  });

  it.each([
    ["/api/v1/devices/00000000-0000-4000-8000-000000000000", 404],
    ["/api/v1/devices/not-a-uuid", 404],
    ["/api/v1/devices?limit=0", 400],
    ["/api/v1/devices?status=sleeping", 400],
  ])("GET %s -> %i", async (path, status) => {
    expect((await api(path)).status).toBe(status);
  });

  it("refuses a WebSocket client without a token", async () => {
    const bad = new WebSocket(`${cp.httpUrl.replace("http", "ws")}/api/v1/stream`);
    const code = await new Promise<number>((resolve) => {
      bad.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      bad.on("open", () => resolve(101));
    });
    expect(code).toBe(401);
  });
});

describe("gRPC Enroll input", () => {
  const publicKey = () => createUser().getPublicKey();
  const call = (req: Partial<EnrollRequest>) =>
    new Promise<{ code: number; details: string }>((resolve) => {
      const client = new EnrollmentServiceClient(cp.grpcAddress, credentials.createInsecure());
      client.enroll(
        EnrollRequest.fromPartial({ name: "x", agentVersion: "1", facts, ...req }),
        (err) => {
          client.close();
          resolve({ code: err?.code ?? status.OK, details: err?.details ?? "" });
        },
      );
    });

  it.each([
    [
      { token: "t", publicKey: "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU" },
      status.INVALID_ARGUMENT,
      /^publicKey/,
    ],
    [{ token: "t", publicKey: "not-a-key" }, status.INVALID_ARGUMENT, /^publicKey/],
    [{ token: "", publicKey: "U" }, status.INVALID_ARGUMENT, /^token/],
    [{ token: "t", facts: undefined }, status.INVALID_ARGUMENT, /^facts/],
    [{ token: "t", name: "no spaces allowed" }, status.INVALID_ARGUMENT, /^name/],
    [{ token: "t", facts: { ...facts, cores: 0 } }, status.INVALID_ARGUMENT, /^facts\.cores/],
    [{ token: "wrong-token" }, status.UNAUTHENTICATED, /not valid/],
  ])("%j -> code %i", async (req, code, details) => {
    const before = (await api("/api/v1/devices")).body.total;
    const res = await call({ publicKey: publicKey(), ...req });
    expect(res.code).toBe(code);
    expect(res.details).toMatch(details);
    expect((await api("/api/v1/devices")).body.total).toBe(before);
  });
});
