// The gap a restart opens (issue 11): a nats-server that comes back with only its preload (no
// revocations: its stored account JWT lost, or the preload winning over it) would let a
// decommissioned device in again. The control plane re-pushes the fleet account JWT, with every
// revocation from Postgres, whenever its connection comes back, so the window closes by itself.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { closeBus, connectDevice } from "@edgefleet/bus";
import { until } from "@edgefleet/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControlPlane, type TestControlPlane } from "../testing";

let stack: TestControlPlane;

beforeAll(async () => {
  stack = await startTestControlPlane();
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const tryConnect = async (d: { deviceId: string; jwt: string; seed: string }) => {
  try {
    const nc = await connectDevice({ servers: stack.nats.url, ...d, timeoutMs: 2_000 });
    await closeBus(nc);
    return true;
  } catch {
    return false;
  }
};

describe("revocations survive a nats-server restart", () => {
  it("a server back with only its preload refuses the decommissioned device again within seconds", async () => {
    const victim = await stack.enrollDevice("victim");
    const bystander = await stack.enrollDevice("bystander");
    const res = await stack.api(`/api/v1/devices/${victim.deviceId}/decommission`, {
      method: "POST",
    });
    expect(res.body.revocationPushed).toBe(true);
    expect(await tryConnect(victim)).toBe(false);

    // Kill the server and lose what the resolver stored: it comes back with the preload only.
    await stack.nats.kill();
    await rm(join(stack.nats.dir, "js", "jwt"), { recursive: true, force: true });
    const restartedAt = Date.now();
    await stack.nats.restart();

    await until(
      "the restarted server to refuse the stolen credentials",
      async () => ((await tryConnect(victim)) ? undefined : true),
      15_000,
      100,
    );
    const closedAfterMs = Date.now() - restartedAt;
    console.log(`revocation back in force ${closedAfterMs} ms after the restart`);
    expect(closedAfterMs).toBeLessThan(15_000);
    // Stays refused (not a blip), and others are unaffected.
    for (let i = 0; i < 3; i++) expect(await tryConnect(victim)).toBe(false);
    expect(await tryConnect(bystander)).toBe(true);
  }, 90_000);
});
