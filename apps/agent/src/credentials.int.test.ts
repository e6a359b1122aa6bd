// A real agent's credentials (issue 11): with a 9 s JWT it renews at ~6 s over gRPC, stores the
// new JWT atomically, reconnects with it and stays connected past the original expiry. Then it
// is decommissioned: the connection ends, and the creds file a thief copied beforehand opens
// nothing.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { connectDevice, decodeUserJwt, parseCreds } from "@edgefleet/bus";
import { startTcpProxy } from "@edgefleet/testkit";
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

/** A relay to the control plane's gRPC port: cut, it is "down" for the agent, all else runs. */
async function grpcLink(target: string) {
  const [host, port] = target.split(":");
  const proxy = await startTcpProxy({ host: host ?? "127.0.0.1", port: Number(port) });
  return { proxy, address: `${proxy.host}:${proxy.port}` };
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
    // Refused by the server, the agent asks for a renewal, is refused for good, and stops.
    await until("the agent to close its connection", async () =>
      nc.isClosed() ? true : undefined,
    );
  }, 30_000);

  it("retries with backoff while the control plane is unreachable, and renews once it is back", async () => {
    const link = await grpcLink(stack.cp.grpcAddress);
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
      link.proxy.cut(); // before the renewal is due (~6 s)
      await until("renewal attempts fail", async () =>
        second.credentials.failedAttempts >= 2 ? true : undefined,
      );
      expect(second.credentials.renewals).toBe(0);
      link.proxy.restore();
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
      await link.proxy.close();
    }
  }, 60_000);

  it("out of reach past the JWT's expiry: the server refuses it, the agent keeps trying, renews and reconnects", async () => {
    const link = await grpcLink(stack.cp.grpcAddress);
    const third = await startAgent(
      stack.agentConfig(await stack.newDataDir(), await stack.newEnrollmentToken(), {
        name: "pi-3",
        controlPlaneGrpc: link.address,
      }),
    );
    try {
      const nc = await third.connected;
      const exp = decodeUserJwt(third.credentials.userJwt).exp as number;
      link.proxy.cut();
      const statuses: string[] = [];
      void (async () => {
        for await (const s of nc.status())
          statuses.push(`${s.type}:${"error" in s ? s.error : ""}`);
      })();
      // The server ends the connection at `exp` and refuses the expired JWT on every retry.
      await until(
        "the server to refuse the expired JWT",
        async () => (statuses.some((s) => /expired|authorization/i.test(s)) ? true : undefined),
        exp * 1000 - Date.now() + 15_000,
      );
      expect(third.credentials.renewals).toBe(0);
      const refusedAt = Date.now();
      await new Promise((r) => setTimeout(r, 3_000)); // nats.js would have given up by now
      expect(nc.isClosed()).toBe(false);

      link.proxy.restore();
      await until("a renewal", async () => (third.credentials.renewals > 0 ? true : undefined));
      await until("reconnected with the renewed JWT", () =>
        nc.flush().then(
          () => true,
          () => undefined,
        ),
      );
      console.log(`connected again ${Date.now() - refusedAt} ms after the first refusal (3 s cut)`);
      expect(decodeUserJwt(third.credentials.userJwt).exp as number).toBeGreaterThan(exp);
    } finally {
      await third.stop();
      await link.proxy.close();
    }
  }, 60_000);
});
