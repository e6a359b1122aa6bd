// The fleet's operator config on a 3-node JetStream cluster: replicated streams work and a
// device's telemetry reaches them through any node.
import { STREAMS, subjects } from "@edgefleet/protocol";
import { type NatsClusterHandle, startNatsCluster } from "@edgefleet/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { createUser } from "@nats-io/nkeys";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeBus, connectBus, connectDevice } from "./connect";
import { formatCreds } from "./creds";
import { createFleetAuth, type FleetAuth, mintDeviceCredentials } from "./fleet-auth";
import { writeServerConfig } from "./server-config";
import { ensureStreams } from "./streams";

let auth: FleetAuth;
let cluster: NatsClusterHandle;
const conns: NatsConnection[] = [];

beforeAll(async () => {
  auth = await createFleetAuth();
  cluster = await startNatsCluster(3, { config: (ctx) => writeServerConfig(auth, ctx) });
}, 30_000);

afterAll(async () => {
  await Promise.all(conns.map((nc) => closeBus(nc)));
  await cluster?.stop();
});

describe("3-node cluster with the fleet operator config", () => {
  it("serves R3 streams and stores a device's telemetry published on another node", async () => {
    const cp = await connectBus({
      servers: cluster.urls[0],
      name: "control-plane",
      creds: formatCreds(auth.controlPlane.jwt, auth.controlPlane.seed),
    });
    conns.push(cp);
    const [telemetry] = await ensureStreams(cp, { replicas: 3 });
    expect(telemetry.config.num_replicas).toBe(3);
    expect(telemetry.cluster?.replicas).toHaveLength(2);

    const kp = createUser();
    const { jwt } = await mintDeviceCredentials(auth, {
      deviceId: "dev-c",
      publicKey: kp.getPublicKey(),
    });
    const dev = await connectDevice({
      servers: cluster.urls[2],
      deviceId: "dev-c",
      jwt,
      seed: kp.getSeed(),
    });
    conns.push(dev);
    dev.publish(subjects.telemetry("dev-c"), "r3");
    await dev.flush();

    const jsm = await jetstreamManager(cp);
    const deadline = Date.now() + 5_000;
    let stored = 0;
    while (stored === 0 && Date.now() < deadline) {
      stored = (await jsm.streams.info(STREAMS.telemetry.name)).state.messages;
      if (stored === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(stored).toBe(1);
  }, 20_000);
});
