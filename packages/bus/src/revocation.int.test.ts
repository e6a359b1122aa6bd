// The full resolver at run time (issue 11): a system user pushes the fleet account JWT with a
// revocation; the revoked device is cut off on every node and its JWT refused from then on,
// while other devices keep working. JWTs past their `exp` are refused at connect.
import { subjects } from "@edgefleet/protocol";
import {
  type NatsClusterHandle,
  type NatsServerHandle,
  startNatsCluster,
  startNatsServerWithConfig,
  until,
} from "@edgefleet/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountPushError, connectSystem, parseClaimsReply, pushAccountJwt } from "./account-push";
import { closeBus, connectBus, connectDevice } from "./connect";
import { formatCreds } from "./creds";
import { createUserKey } from "./fast-nkey";
import {
  createFleetAuth,
  type FleetAuth,
  fleetAccountJwt,
  mintDeviceCredentials,
} from "./fleet-auth";
import { writeServerConfig } from "./server-config";

let auth: FleetAuth;
let server: NatsServerHandle;
let cluster: NatsClusterHandle;
const conns: NatsConnection[] = [];

beforeAll(async () => {
  auth = await createFleetAuth();
  [server, cluster] = await Promise.all([
    startNatsServerWithConfig((ctx) => writeServerConfig(auth, ctx)),
    startNatsCluster(3, { config: (ctx) => writeServerConfig(auth, ctx) }),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(conns.map((nc) => closeBus(nc).catch(() => {})));
  await Promise.all([server?.stop(), cluster?.stop()]);
});

async function device(deviceId: string, ttlSeconds?: number, now?: number) {
  const key = createUserKey();
  const { jwt } = await mintDeviceCredentials(auth, { deviceId, ...key }, { ttlSeconds, now });
  return { ...key, deviceId, jwt };
}

function connect(servers: string | string[], d: Awaited<ReturnType<typeof device>>) {
  return connectDevice({
    servers,
    deviceId: d.deviceId,
    jwt: d.jwt,
    seed: d.seed,
    timeoutMs: 3_000,
  });
}

/** Resolves once the server has closed this connection on us (any status but a clean close). */
function droppedBy(nc: NatsConnection): Promise<void> {
  return (async () => {
    for await (const s of nc.status()) if (s.type === "disconnect" || s.type === "error") return;
  })();
}

describe("parseClaimsReply", () => {
  it.each([['{"data":{"account":"A1","code":200,"message":"jwt updated"}}', "jwt updated"]])(
    "accepts %s",
    (text, message) => {
      expect(parseClaimsReply(text).message).toBe(message);
    },
  );
  it.each([
    ['{"error":{"code":500,"description":"jwt validation failed"}}', /jwt validation failed/],
    ["not json", /not JSON/],
    ["{}", /unexpected reply/],
    ['{"data":{"code":400}}', /unexpected reply/],
  ])("refuses %s", (text, message) => {
    expect(() => parseClaimsReply(text)).toThrow(message);
    expect(() => parseClaimsReply(text)).toThrow(AccountPushError);
  });
});

describe("device JWT expiry", () => {
  it("refuses an expired JWT at connect and accepts a live one", async () => {
    const expired = await device("dev-exp", 60, Date.now() - 120_000);
    await expect(connect(server.url, expired)).rejects.toThrow(/authoriz|expired/i);
    const live = await device("dev-live", 60);
    const nc = await connect(server.url, live);
    conns.push(nc);
    await nc.flush();
  }, 20_000);
});

describe("revocation pushed to the full resolver", () => {
  it("drops the revoked device at once, refuses its JWT, and leaves the others alone", async () => {
    const sys = await connectSystem(auth, { servers: server.url });
    conns.push(sys);
    const victim = await device("dev-victim");
    const bystander = await device("dev-ok");
    const [vc, bc] = [await connect(server.url, victim), await connect(server.url, bystander)];
    conns.push(vc, bc);
    const dropped = droppedBy(vc);

    const started = Date.now();
    const jwt = await fleetAccountJwt(auth, { [victim.publicKey]: Math.floor(Date.now() / 1000) });
    const reply = await pushAccountJwt(sys, jwt);
    expect(reply.account).toBe(auth.fleetAccount.publicKey);
    await dropped;
    expect(Date.now() - started).toBeLessThan(2_000);

    // The stolen JWT + seed: refused at connect.
    await expect(connect(server.url, victim)).rejects.toThrow(/authoriz|revoked/i);
    // The bystander still publishes, and what it publishes arrives.
    const cp = await connectBus({
      servers: server.url,
      name: "cp",
      creds: formatCreds(auth.controlPlane.jwt, auth.controlPlane.seed),
    });
    conns.push(cp);
    const sub = cp.subscribe(subjects.heartbeat("dev-ok"), { max: 1 });
    await cp.flush();
    bc.publish(subjects.heartbeat("dev-ok"), "alive");
    for await (const m of sub) expect(m.string()).toBe("alive");
    expect(bc.isClosed()).toBe(false);
  }, 20_000);

  it("turns the server's refusal into an AccountPushError", async () => {
    const sys = await connectSystem(auth, { servers: server.url });
    conns.push(sys);
    await expect(pushAccountJwt(sys, "not.a-jwt")).rejects.toThrow(/account push refused \(500\)/);
  }, 20_000);

  it("on a 3-node cluster, a push to one node drops the device connected to another", async () => {
    const sys = await connectSystem(auth, { servers: cluster.urls[0] });
    conns.push(sys);
    const victim = await device("dev-c-victim");
    const vc = await connect(cluster.urls[2], victim);
    conns.push(vc);
    const dropped = droppedBy(vc);
    const jwt = await fleetAccountJwt(auth, { [victim.publicKey]: Math.floor(Date.now() / 1000) });
    await pushAccountJwt(sys, jwt);
    await dropped;
    for (const url of cluster.urls) {
      await until(
        `node ${url} to refuse the revoked JWT`,
        async () => {
          try {
            await closeBus(await connect(url, victim));
            return undefined;
          } catch {
            return true;
          }
        },
        5_000,
      );
    }
  }, 30_000);
});
