// A real agent's credentials (issue 11): with a 9 s JWT it renews at ~6 s over gRPC, stores the
// new JWT atomically, reconnects with it and stays connected past the original expiry. Then it
// is decommissioned: the connection ends, and the creds file a thief copied beforehand opens
// nothing.
import { readFile } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { connectDevice, decodeUserJwt, parseCreds } from "@edgefleet/bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "./agent";
import { startTestStack, type TestStack, until } from "./test-stack";

const TTL = 9;
let stack: TestStack;
let agent: RunningAgent;
let dataDir: string;

beforeAll(async () => {
  stack = await startTestStack({ deviceJwtTtlSeconds: TTL });
  dataDir = await stack.newDataDir();
  agent = await startAgent(stack.agentConfig(dataDir, await stack.newEnrollmentToken()));
  await agent.connected;
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await stack?.stop();
});

const storedJwt = async () =>
  JSON.parse(await readFile(join(dataDir, "identity.json"), "utf8")).userJwt as string;

/**
 * A TCP relay to the control plane's gRPC port that can be taken down and brought back: the
 * control plane "down" for the agent while everything else keeps running.
 */
function relay(target: string) {
  const [host, port] = [target.split(":")[0], Number(target.split(":")[1])];
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  return {
    get address() {
      return `127.0.0.1:${listenPort}`;
    },
    async up() {
      server = createServer((client) => {
        const upstream = createConnection({ host, port });
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((r) => server?.listen(listenPort, "127.0.0.1", () => r()));
      listenPort = (server.address() as { port: number }).port;
    },
    async down() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server?.close(r));
    },
  };
}

describe("a real agent's credentials", () => {
  it("renews before expiry and stays connected past the original exp", async () => {
    const original = await storedJwt();
    const exp = decodeUserJwt(original).exp as number;
    expect(exp - (decodeUserJwt(original).iat as number)).toBe(TTL);

    await until("the agent renewed", async () =>
      agent.credentials.renewals > 0 ? true : undefined,
    );
    expect(Date.now()).toBeLessThan(exp * 1000);
    const renewed = await storedJwt();
    expect(renewed).not.toBe(original);
    expect(decodeUserJwt(renewed).exp).toBeGreaterThan(exp);
    expect(decodeUserJwt(renewed).sub).toBe(decodeUserJwt(original).sub);
    // The creds file holds the same new JWT (written whole, owner-only).
    expect(parseCreds(await readFile(join(dataDir, "device.creds"), "utf8")).jwt).toBe(
      agent.credentials.userJwt,
    );

    // Past the original expiry: still connected, heartbeats still arriving.
    await until("the original JWT expired", async () =>
      Date.now() > exp * 1000 + 1_500 ? true : undefined,
    );
    const nc = agent.nc;
    expect(nc?.isClosed()).toBe(false);
    await nc?.flush(); // a round trip to the server
    await until(
      "a heartbeat after the original expiry",
      async () => {
        const d = await stack.api(`/api/v1/devices/${agent.deviceId}`);
        const seen = Date.parse(String(d.body.lastSeenAt));
        return seen > exp * 1000 + 1_500 && d.body.status === "online" ? true : undefined;
      },
      10_000,
    );
  }, 60_000);

  it("decommissioned: the connection ends and the copied creds file opens nothing", async () => {
    const stolen = parseCreds(await readFile(join(dataDir, "device.creds"), "utf8"));
    const nc = agent.nc;
    if (!nc) throw new Error("agent not connected");
    const dropped = (async () => {
      for await (const s of nc.status()) if (s.type === "disconnect" || s.type === "error") return;
    })();
    const res = await stack.api(`/api/v1/devices/${agent.deviceId}/decommission`, {
      method: "POST",
    });
    expect(res.status).toBe(200);
    expect(res.body.revocationPushed).toBe(true);
    await dropped;
    await expect(
      connectDevice({
        servers: stack.nats.url,
        deviceId: agent.deviceId,
        jwt: stolen.jwt,
        seed: stolen.seed,
        timeoutMs: 3_000,
      }),
    ).rejects.toThrow(/authoriz|revoked/i);
  }, 30_000);

  it("retries with backoff while the control plane is unreachable, and renews once it is back", async () => {
    const link = relay(stack.cp.grpcAddress);
    await link.up();
    const dir = await stack.newDataDir();
    const second = await startAgent(
      stack.agentConfig(dir, await stack.newEnrollmentToken(), {
        name: "pi-2",
        controlPlaneGrpc: link.address,
      }),
    );
    try {
      await second.connected;
      const exp = decodeUserJwt(second.credentials.userJwt).exp as number;
      await link.down(); // before the renewal is due (~6 s)
      await until("renewal attempts fail", async () =>
        second.credentials.failedAttempts >= 2 ? true : undefined,
      );
      expect(second.credentials.renewals).toBe(0);
      await link.up();
      await until("the agent renewed", async () =>
        second.credentials.renewals > 0 ? true : undefined,
      );
      expect(Date.now()).toBeLessThan(exp * 1000);
      await until("the original JWT expired", async () =>
        Date.now() > exp * 1000 + 1_500 ? true : undefined,
      );
      expect(second.nc?.isClosed()).toBe(false);
      await second.nc?.flush();
    } finally {
      await second.stop();
      await link.down();
    }
  }, 60_000);
});
