// Edge sites (issue 11) against real servers: a hub and a site's leaf-node server in operator
// mode, the uplink through a TCP relay. Telemetry is kept at the site while the uplink is cut
// and reaches the hub once, in full, when it returns; artifacts are read from the site's mirror
// with the uplink cut.
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KV_BUCKETS, kvSubject, STREAMS, subjects } from "@edgefleet/protocol";
import { type LeafSiteHandle, startLeafSite, until } from "@edgefleet/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeBus, connectBus, connectDevice } from "./connect";
import { formatCreds } from "./creds";
import { createUserKey } from "./fast-nkey";
import { createFleetAuth, type FleetAuth, mintDeviceCredentials } from "./fleet-auth";
import { writeServerConfig } from "./server-config";
import { ensureSiteStreams, HUB_DOMAIN, mintSiteCredentials, writeSiteServerConfig } from "./sites";
import { directGetLast, ensureStores, kvStreamName, readObject } from "./stores";
import { ensureStreams } from "./streams";

const SITE = "lab1";
let auth: FleetAuth;
let net: LeafSiteHandle;
let dir: string;
let cp: NatsConnection;
let dev: NatsConnection;
const deviceId = "dev-site-1";

beforeAll(async () => {
  auth = await createFleetAuth();
  dir = await mkdtemp(join(tmpdir(), "ef-site-"));
  const credentialsPath = join(dir, "site.creds");
  await writeFile(credentialsPath, await mintSiteCredentials(auth, SITE), { mode: 0o600 });
  net = await startLeafSite({
    hubConfig: (ctx, leafnodes) =>
      writeServerConfig(auth, { ...ctx, jetStreamDomain: HUB_DOMAIN, leafnodes }),
    siteConfig: (ctx, hubLeafUrl) =>
      writeSiteServerConfig(auth, {
        ...ctx,
        site: SITE,
        hubLeafUrls: [hubLeafUrl],
        credentialsPath,
      }),
  });
  cp = await connectBus({
    servers: net.hub.url,
    name: "control-plane",
    creds: formatCreds(auth.controlPlane.jwt, auth.controlPlane.seed),
  });
  await ensureStreams(cp, { sites: [SITE] });
  await ensureStores(cp);
  // The leaf link comes up within a second or so; until then the site's domain does not answer.
  await until("site streams", () =>
    ensureSiteStreams(cp, SITE, { timeoutMs: 1_000 }).then(
      () => true,
      () => undefined,
    ),
  );
  const key = createUserKey();
  const { jwt } = await mintDeviceCredentials(auth, { deviceId, publicKey: key.publicKey });
  dev = await connectDevice({ servers: net.site.url, deviceId, jwt, seed: key.seed });
}, 60_000);

afterAll(async () => {
  await Promise.all([dev, cp].filter(Boolean).map((nc) => closeBus(nc).catch(() => {})));
  await net?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function hubTelemetry(): Promise<string[]> {
  const jsm = await jetstreamManager(cp);
  const info = await jsm.streams.info(STREAMS.telemetry.name);
  const out: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages; seq++) {
    const m = await jsm.streams.getMessage(STREAMS.telemetry.name, { seq });
    if (m) out.push(new TextDecoder().decode(m.data));
  }
  return out;
}

async function publishTelemetry(from: number, count: number): Promise<void> {
  const js = jetstream(dev);
  for (let i = from; i < from + count; i++) {
    const ack = await js.publish(subjects.telemetry(deviceId), `t${i}`, { msgID: `t${i}` });
    // Stored by the site's JetStream, not the hub's.
    expect(ack.domain).toBe(SITE);
  }
}

describe("edge site", () => {
  it("telemetry published at the site reaches the hub through the stream source", async () => {
    await publishTelemetry(0, 5);
    const got = await until("5 messages at the hub", async () => {
      const t = await hubTelemetry();
      return t.length >= 5 ? t : undefined;
    });
    expect(got).toEqual(["t0", "t1", "t2", "t3", "t4"]);
  });

  it("an artifact put at the hub is read from the site's mirror with the uplink cut", async () => {
    const bytes = new Uint8Array(600_000).map((_, i) => (i * 31) % 251);
    const digest = createHash("sha256").update(bytes).digest("hex");
    const { artifacts } = await ensureStores(cp);
    await artifacts.putBlob({ name: digest }, bytes);
    const siteJsm = await jetstreamManager(cp, { domain: SITE });
    const hubInfo = await (await jetstreamManager(cp)).streams.info("OBJ_artifacts");
    await until("the site's mirror caught up", async () => {
      const info = await siteJsm.streams.info("OBJ_artifacts");
      return info.state.messages >= hubInfo.state.messages ? true : undefined;
    });
    net.uplink.cut();
    const hash = createHash("sha256");
    const meta = await readObject(dev, digest, {
      domain: SITE,
      onChunk: (chunk) => void hash.update(chunk),
    });
    expect(meta.size).toBe(bytes.length);
    expect(hash.digest("hex")).toBe(digest);
    // The hub is out of reach meanwhile: desired state cannot be read from there.
    await expect(
      directGetLast(
        dev,
        kvStreamName(KV_BUCKETS.desired),
        kvSubject(KV_BUCKETS.desired, deviceId),
        500,
        HUB_DOMAIN,
      ),
    ).rejects.toThrow();
    net.uplink.restore();
  }, 30_000);

  it("keeps telemetry at the site while the uplink is cut and delivers it once, in full", async () => {
    net.uplink.cut();
    await publishTelemetry(5, 200);
    // Nothing crossed: the uplink is down and a site may not publish device telemetry up anyway.
    await new Promise((r) => setTimeout(r, 500));
    expect(await hubTelemetry()).toHaveLength(5);
    net.uplink.restore();
    const got = await until(
      "205 messages at the hub",
      async () => {
        const t = await hubTelemetry();
        return t.length >= 205 ? t : undefined;
      },
      30_000,
    );
    // A little longer: a re-sent batch after the reconnect would show up as extra messages.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await hubTelemetry()).toEqual(Array.from({ length: 205 }, (_, i) => `t${i}`));
    expect(got).toHaveLength(205);
  }, 60_000);

  it("heartbeats cross the uplink live; device telemetry never does", async () => {
    const got: string[] = [];
    const sub = cp.subscribe(`ef.v1.dev.${deviceId}.>`, {
      callback: (_e, m) => void got.push(m.subject),
    });
    await cp.flush();
    // Interest reaches the site over the leaf link a moment later.
    await until("heartbeat at the hub", async () => {
      dev.publish(subjects.heartbeat(deviceId), "h");
      await dev.flush();
      await new Promise((r) => setTimeout(r, 100));
      return got.length > 0 ? true : undefined;
    });
    dev.publish(subjects.telemetry(deviceId), "live");
    dev.publish(subjects.heartbeat(deviceId), "h");
    await dev.flush();
    await until("the last heartbeat", async () =>
      got.filter((s) => s.endsWith("heartbeat")).length >= 2 ? true : undefined,
    );
    sub.unsubscribe();
    expect(got).not.toContain(subjects.telemetry(deviceId));
  });
});
