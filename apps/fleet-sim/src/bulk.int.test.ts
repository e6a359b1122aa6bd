// The bulk path: 500 devices registered by inserting rows and minting JWTs from the control
// plane's state dir, each then connecting with its own credentials, confined to its own subjects.
import { connectDevice } from "@edgefleet/bus";
import { startTestControlPlane, type TestControlPlane } from "@edgefleet/control-plane/testing";
import { subjects } from "@edgefleet/protocol";
import { until } from "@edgefleet/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlApi } from "./control-api";
import { type RunningFleet, startFleet } from "./fleet";
import { loadFleetFile } from "./fleet-file";
import { RegistrationError } from "./register";
import { tempDir } from "./test-support";

let stack: TestControlPlane;
let fleet: RunningFleet;
let cpNats: NatsConnection;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  // 500 devices beating every second: an offline timeout that a busy test machine still meets.
  stack = await startTestControlPlane({ heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 10_000 });
  dir = await tempDir();
  cpNats = await stack.controlPlaneBus("test-control-plane");
  fleet = await startFleet({
    devices: 500,
    fleetFile: `${dir.path}/fleet.json`,
    registration: {
      kind: "bulk",
      stateDir: stack.stateDir,
      databaseUrl: stack.db.url,
      natsUrls: [stack.nats.url],
      heartbeatIntervalMs: 1_000,
    },
    classMix: "rpi4:1,x86-gateway:1",
    namePrefix: "bulk",
  });
}, 120_000);

afterAll(async () => {
  await fleet?.stop();
  await cpNats?.close();
  await stack?.stop();
  await dir?.remove();
});

describe("bulk registration", () => {
  it("registers 500 devices that connect with their own credentials and come online", async () => {
    expect(fleet.stats()).toMatchObject({
      devices: 500,
      connected: 500,
      registered: { bulk: 500, thisRun: 500 },
      byClass: { rpi4: 250, "x86-gateway": 250 },
    });
    await until(
      "500 online",
      async () => {
        const r = await stack.api("/api/v1/devices?status=online&limit=1");
        return r.body.total === 500 ? true : undefined;
      },
      30_000,
      250,
    );
    const d = await stack.api(`/api/v1/devices/${fleet.devices[499].id}`);
    expect(d.body).toMatchObject({
      name: "bulk-00500",
      simulated: true,
      agentVersion: "fleet-sim-0.1.0",
    });
  }, 60_000);

  it("confines a device to its own subjects", async () => {
    const file = await loadFleetFile(`${dir.path}/fleet.json`);
    const [a, b] = file!.devices;
    const nc = await connectDevice({
      servers: stack.nats.url,
      deviceId: a.id,
      jwt: a.jwt,
      seed: a.seed,
      publicKey: a.publicKey,
    });
    const errors: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === "error") errors.push(String(s.error));
    })();
    const seen: string[] = [];
    const sub = cpNats.subscribe(subjects.heartbeat(b.id), {
      callback: (_e, m) => void seen.push(m.string()),
    });
    await cpNats.flush();
    nc.publish(subjects.heartbeat(b.id), "forged");
    await until("permissions violation", async () => (errors.length ? true : undefined), 5_000);
    expect(errors[0]).toMatch(/permissions violation/i);
    expect(seen).not.toContain("forged");
    sub.unsubscribe();
    await nc.close();
  }, 20_000);

  it("slows a random share of the fleet through the control API, and restores it", async () => {
    const api = await startControlApi(fleet);
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${api.url}${path}`, { method: "POST", body: JSON.stringify(body) }).then(
          async (r) => ({ status: r.status, body: (await r.json()) as { deviceIds: string[] } }),
        );
      const slowed = await post("/load", { fraction: 0.1, factor: 3, seed: 7 });
      expect(slowed.body.deviceIds).toHaveLength(50);
      expect(fleet.stats().loaded).toBe(50);
      expect(fleet.device(slowed.body.deviceIds[0])?.load).toBe(3);
      const one = await post(`/devices/${fleet.devices[0].id}/load`, { factor: 2 });
      expect(one.body.deviceIds).toEqual([fleet.devices[0].id]);
      expect((await post("/devices/nope/load", { factor: 2 })).status).toBe(404);
      expect((await post("/load", { factor: -1 })).status).toBe(400);
      await post("/load", { factor: 1 });
      const stats = (await (await fetch(`${api.url}/stats`)).json()) as { loaded: number };
      expect(stats.loaded).toBe(0);
    } finally {
      await api.close();
    }
  });

  it("refuses a fleet file minted by another control plane", async () => {
    const other = await startTestControlPlane();
    try {
      await expect(
        startFleet({
          devices: 1,
          fleetFile: `${dir.path}/fleet.json`,
          registration: {
            kind: "bulk",
            stateDir: other.stateDir,
            databaseUrl: other.db.url,
            natsUrls: [other.nats.url],
            heartbeatIntervalMs: 1_000,
          },
        }),
      ).rejects.toThrow(RegistrationError);
    } finally {
      await other.stop();
    }
  }, 60_000);
});
