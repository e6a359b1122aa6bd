// A real agent's credentials (issue 11): with a 6 s JWT it renews at ~4 s over gRPC, stores the
// new JWT atomically, reconnects with it and stays connected past the original expiry. Then it
// is decommissioned: the connection ends, and the creds file a thief copied beforehand opens
// nothing.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { connectDevice, decodeUserJwt, parseCreds } from "@edgefleet/bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "./agent";
import { startTestStack, type TestStack, until } from "./test-stack";

const TTL = 6;
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
});
