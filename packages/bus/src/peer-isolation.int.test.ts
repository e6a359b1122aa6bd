// Pipeline peer subjects (`ef.v1.peer.<to>.<from>.<pipelineId>`) against a real nats-server
// running the fleet's operator/JWT config: a device sends as itself only, and receives only what
// is addressed to it.
import { subjects } from "@edgefleet/protocol";
import { type NatsServerHandle, startNatsServerWithConfig } from "@edgefleet/testkit";
import { createUser } from "@nats-io/nkeys";
import { type Msg, type NatsConnection, PermissionViolationError } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeBus, connectBus, connectDevice } from "./connect";
import { formatCreds } from "./creds";
import { createFleetAuth, type FleetAuth, mintDeviceCredentials } from "./fleet-auth";
import { writeServerConfig } from "./server-config";

let auth: FleetAuth;
let server: NatsServerHandle;
const conns: NatsConnection[] = [];
let cp: NatsConnection;
const nc: Record<string, NatsConnection> = {};
const statusErrors: Record<string, unknown[]> = { a: [], b: [], c: [] };

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(pred: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await tick(10);
  }
}

beforeAll(async () => {
  auth = await createFleetAuth();
  server = await startNatsServerWithConfig((ctx) => writeServerConfig(auth, ctx));
  cp = await connectBus({
    servers: server.url,
    name: "control-plane",
    creds: formatCreds(auth.controlPlane.jwt, auth.controlPlane.seed),
  });
  conns.push(cp);
  for (const id of ["a", "b", "c"]) {
    const kp = createUser();
    const { jwt } = await mintDeviceCredentials(auth, {
      deviceId: id,
      publicKey: kp.getPublicKey(),
    });
    const conn = await connectDevice({
      servers: server.url,
      deviceId: id,
      jwt,
      seed: kp.getSeed(),
    });
    conns.push(conn);
    nc[id] = conn;
    void (async () => {
      for await (const st of conn.status())
        if (st.type === "error") statusErrors[id].push(st.error);
    })();
  }
});

afterAll(async () => {
  await Promise.all(conns.map((c) => closeBus(c)));
  await server?.stop();
});

describe("pipeline peer subjects", () => {
  it("a device sends activations to another as itself, and the receiver sees who sent them", async () => {
    const got: Msg[] = [];
    const sub = nc.b.subscribe(subjects.peerTo("b"), { callback: (_e, m) => void got.push(m) });
    await nc.b.flush();
    nc.a.publish(subjects.peer("b", "a", "p1"), "act-1");
    nc.c.publish(subjects.peer("b", "c", "p1"), "act-2");
    await waitFor(() => got.length === 2);
    sub.unsubscribe();
    expect(got.map((m) => [m.subject, m.string()]).sort()).toEqual([
      ["ef.v1.peer.b.a.p1", "act-1"],
      ["ef.v1.peer.b.c.p1", "act-2"],
    ]);
  });

  it.each([
    ["as another device", "ef.v1.peer.b.c.p1"],
    ["as the receiver itself", "ef.v1.peer.b.b.p1"],
    ["with a wildcard-free but short subject", "ef.v1.peer.b.a"],
    ["the last stage's result of another device", "ef.v1.dev.c.pipeline.p1.result"],
  ])("cannot publish %s (%s)", async (_what, subject) => {
    const got: Msg[] = [];
    const sub = cp.subscribe("ef.v1.>", { callback: (_e, m) => void got.push(m) });
    await cp.flush();
    const before = statusErrors.a.length;
    nc.a.publish(subject, "forged");
    nc.a.publish(subjects.heartbeat("a"), "marker");
    await waitFor(() => got.some((m) => m.string() === "marker"));
    await waitFor(() => statusErrors.a.length > before);
    sub.unsubscribe();
    expect(got.filter((m) => m.string() === "forged")).toEqual([]);
    expect(statusErrors.a[before]).toBeInstanceOf(PermissionViolationError);
    expect(statusErrors.a[before]).toMatchObject({ operation: "publish", subject });
  });

  it.each([
    ["another device's peer traffic", "ef.v1.peer.b.*.>"],
    ["one sender's traffic to another device", "ef.v1.peer.b.a.p1"],
    ["all peer traffic", "ef.v1.peer.>"],
    ["what it sends itself", "ef.v1.peer.*.a.>"],
  ])("cannot subscribe to %s (%s)", async (_what, subject) => {
    const sub = nc.a.subscribe(subject);
    const err = await Promise.race([sub.closed, tick(2_000).then(() => "still open")]);
    expect(err).toBeInstanceOf(PermissionViolationError);
    expect(err).toMatchObject({ operation: "subscription", subject });
  });

  it("publishes its own result, which the control plane receives", async () => {
    const got: Msg[] = [];
    const sub = cp.subscribe(subjects.anyPipelineResult, { callback: (_e, m) => void got.push(m) });
    await cp.flush();
    nc.c.publish(subjects.pipelineResult("c", "p1"), "answer");
    await waitFor(() => got.length === 1);
    sub.unsubscribe();
    expect(got[0].subject).toBe("ef.v1.dev.c.pipeline.p1.result");
  });
});
