// The thin path through every real part: gRPC enrollment, the device's own NATS identity on a
// nats-server in operator mode, Postgres through Prisma, REST and the WebSocket stream.
import { stat } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { createPrisma, createRepos } from "@edgefleet/db";
import type { FleetEvent } from "@edgefleet/protocol";
import { EnrollmentServiceClient, EnrollRequest } from "@edgefleet/protocol/grpc";
import { credentials, status } from "@grpc/grpc-js";
import { createUser } from "@nats-io/nkeys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { MissingEnrollmentTokenError, startAgent } from "./agent";
import { EnrollmentRefusedError } from "./enroll-client";
import { rpiFacts as facts, startTestStack, type TestStack, until } from "./test-stack";

let stack: TestStack;
const wsEvents: FleetEvent[] = [];
let ws: WebSocket;
const api: TestStack["api"] = (path, init) => stack.api(path, init);
const agentConfig = (dir: string, token?: string) => stack.agentConfig(dir, token);
const tmpAgentDir = () => stack.newDataDir();

beforeAll(async () => {
  stack = await startTestStack();
  ws = new WebSocket(`${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
  });
  ws.on("message", (data) => wsEvents.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
}, 30_000);

afterAll(async () => {
  ws?.close();
  await stack?.stop();
});

describe("thin path", () => {
  it("writes the admin token readable by its owner only", async () => {
    expect((await stat(stack.cp.adminTokenPath)).mode & 0o777).toBe(0o600);
  });

  it("enrolls, reports, goes offline when killed, and keeps its identity on restart", async () => {
    const dataDir = await tmpAgentDir();
    const token = await stack.newEnrollmentToken();
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
    await (await first.connected).close();
    // The agent notices its connection is gone for good (main.ts exits to be restarted).
    expect(await first.lost).toBeUndefined();
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
    const token = await stack.newEnrollmentToken(1);
    const ok = await startAgent(agentConfig(await tmpAgentDir(), token));
    const before = (await api("/api/v1/devices")).body.total;
    await expect(startAgent(agentConfig(await tmpAgentDir(), token))).rejects.toThrow(
      EnrollmentRefusedError,
    );
    expect((await api("/api/v1/devices")).body.total).toBe(before);
    await ok.stop();
  });

  it("refuses an expired enrollment token", async () => {
    const prisma = createPrisma(stack.db.url);
    const { secret } = await createRepos(prisma).enrollmentTokens.create({
      label: "old",
      expiresAt: new Date(Date.now() - 1000),
      maxUses: 5,
    });
    await prisma.$disconnect();
    await expect(startAgent(agentConfig(await tmpAgentDir(), secret))).rejects.toThrow(/expired/);
  });

  it("needs a token when no identity is stored", async () => {
    await expect(startAgent(agentConfig(await tmpAgentDir()))).rejects.toThrow(
      MissingEnrollmentTokenError,
    );
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
    ["text/plain", '{"maxUses":2}', 415],
    ["application/x-www-form-urlencoded", "maxUses=2", 415],
    ["application/json", '{"maxUses":2}', 201],
    ["application/json; charset=utf-8", '{"maxUses":2}', 201],
  ])(
    "POST enrollment-tokens as %s (%s) -> %i; only JSON creates one",
    async (type, body, status) => {
      const prisma = createPrisma(stack.db.url);
      try {
        const before = await prisma.enrollmentToken.count();
        const res = await fetch(`${stack.cp.httpUrl}/api/v1/enrollment-tokens`, {
          method: "POST",
          headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": type },
          body,
        });
        expect(res.status).toBe(status);
        const created = (await prisma.enrollmentToken.count()) - before;
        if (status === 415) {
          expect(await res.json()).toMatchObject({
            error: {
              code: "unsupported_media_type",
              message: expect.stringMatching(/must be application\/json/),
            },
          });
          expect(created).toBe(0);
        } else {
          expect(created).toBe(1);
        }
      } finally {
        await prisma.$disconnect();
      }
    },
  );

  it.each([
    ["content-length 0", "fetch"],
    ["no content-length", "raw"],
  ])("POST reprofile with no body (%s) reaches the handler", async (_what, how) => {
    const path = "/api/v1/devices/00000000-0000-4000-8000-000000000000/reprofile";
    const status =
      how === "fetch"
        ? (
            await fetch(`${stack.cp.httpUrl}${path}`, {
              method: "POST",
              headers: { authorization: `Bearer ${stack.adminToken}` },
            })
          ).status
        : await rawPost(path);
    expect(status).toBe(404); // the device is unknown: the handler ran
  });

  it.each([
    ["", 401],
    ["not-a-token", 401],
  ])("token %j -> %i", async (token, status) => {
    expect((await api("/api/v1/devices", { token })).status).toBe(status);
  });

  it.each([
    ["/api/v1/devices/00000000-0000-4000-8000-000000000000", 404, undefined],
    ["/api/v1/devices/not-a-uuid", 404, undefined],
    ["/api/v1/devices?limit=0", 400, "limit"],
    ["/api/v1/devices?status=sleeping", 400, "status"],
    ["/api/v1/devices?cursor=garbage", 400, "cursor"],
    [
      `/api/v1/devices?cursor=${Buffer.from('["not a date","x"]').toString("base64url")}`,
      400,
      "cursor",
    ],
  ])("GET %s -> %i", async (path, status, field) => {
    const res = await api(path);
    expect(res.status).toBe(status);
    if (field) expect(res.body.error).toMatchObject({ code: "invalid_argument", field });
  });

  it("refuses a WebSocket client without a token", async () => {
    const bad = new WebSocket(`${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`);
    const code = await new Promise<number>((resolve) => {
      bad.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      bad.on("open", () => resolve(101));
    });
    expect(code).toBe(401);
  });
});

/** A POST without Content-Length or Transfer-Encoding, which fetch and node:http never send. */
async function rawPost(path: string): Promise<number> {
  const { host, hostname, port } = new URL(stack.cp.httpUrl);
  const socket = connect(Number(port), hostname);
  // Written, not ended: a half-closed client gets no reply. Connection: close ends the reply.
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${stack.adminToken}\r\nConnection: close\r\n\r\n`,
  );
  let reply = "";
  for await (const chunk of socket) reply += String(chunk);
  return Number(reply.split(" ")[1]);
}

describe("gRPC Enroll input", () => {
  const publicKey = () => createUser().getPublicKey();
  const call = (req: Partial<EnrollRequest>) =>
    new Promise<{ code: number; details: string }>((resolve) => {
      const client = new EnrollmentServiceClient(
        stack.cp.grpcAddress,
        credentials.createInsecure(),
      );
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
