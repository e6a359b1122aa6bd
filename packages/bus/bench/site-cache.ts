// Edge sites (issue 11): 50 devices at one site fetch one ~4 MiB artifact over a 100 Mbit/s
// uplink (the testkit TCP relay, throttled), once straight from the hub's object store and once
// from the site's mirror. Prints bytes over the uplink and the time until every device has it.
// Devices are lightweight fetchers: one NATS connection each with its own device JWT, reading with
// `readObject` (the code the agent's artifact fetch runs) and checking the sha256.
// Run: flock /tmp/ef-heavy.lock npm run bench:site-cache -w @edgefleet/bus
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLeafSite } from "@edgefleet/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  closeBus,
  connectBus,
  connectDevice,
  createFleetAuth,
  createUserKey,
  ensureSiteStreams,
  ensureStores,
  formatCreds,
  HUB_DOMAIN,
  mintDeviceCredentials,
  mintSiteCredentials,
  readObject,
  readObjectMeta,
  writeServerConfig,
  writeSiteServerConfig,
} from "../src/index";

const DEVICES = Number(process.env.DEVICES ?? 50);
const BYTES = Number(process.env.ARTIFACT_BYTES ?? 4 * 2 ** 20);
const UPLINK_BYTES_PER_S = (Number(process.env.UPLINK_MBIT ?? 100) * 1e6) / 8;
const SITE = "bench1";

interface Result {
  uplinkBytes: number;
  seconds: number;
}

async function run(withCache: boolean): Promise<Result> {
  const auth = await createFleetAuth();
  const dir = await mkdtemp(join(tmpdir(), "ef-site-bench-"));
  const credentialsPath = join(dir, "site.creds");
  await writeFile(credentialsPath, await mintSiteCredentials(auth, SITE), { mode: 0o600 });
  const net = await startLeafSite({
    hubConfig: (ctx, leafnodes) =>
      writeServerConfig(auth, { ...ctx, jetStreamDomain: HUB_DOMAIN, leafnodes }),
    siteConfig: (ctx, url) =>
      writeSiteServerConfig(auth, { ...ctx, site: SITE, hubLeafUrls: [url], credentialsPath }),
  });
  const conns: NatsConnection[] = [];
  try {
    const cp = await connectBus({
      servers: net.hub.url,
      name: "bench",
      creds: formatCreds(auth.controlPlane.jwt, auth.controlPlane.seed),
    });
    conns.push(cp);
    const { artifacts } = await ensureStores(cp);
    if (withCache) {
      for (let i = 0; ; i++) {
        try {
          await ensureSiteStreams(cp, SITE, { timeoutMs: 1_000 });
          break;
        } catch (err) {
          if (i > 30) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
    const devices = await Promise.all(
      Array.from({ length: DEVICES }, async (_, i) => {
        const deviceId = `bench-${i}`;
        const key = createUserKey();
        const { jwt } = await mintDeviceCredentials(auth, { deviceId, publicKey: key.publicKey });
        const nc = await connectDevice({ servers: net.site.url, deviceId, jwt, seed: key.seed });
        conns.push(nc);
        return nc;
      }),
    );
    const bytes = randomBytes(BYTES);
    const digest = createHash("sha256").update(bytes).digest("hex");
    net.uplink.setRate(UPLINK_BYTES_PER_S);
    const before = net.uplink.bytesToClient + net.uplink.bytesToServer;
    const started = performance.now();
    await artifacts.putBlob({ name: digest }, bytes);
    const domain = withCache ? SITE : HUB_DOMAIN;
    await Promise.all(
      devices.map(async (nc) => {
        // At the site the object appears once the mirror has it (what a device's retry sees).
        while (!(await readObjectMeta(nc, digest, undefined, domain).catch(() => null))) {
          await new Promise((r) => setTimeout(r, 50));
        }
        const hash = createHash("sha256");
        await readObject(nc, digest, {
          domain,
          timeoutMs: 60_000,
          onChunk: (c) => void hash.update(c),
        });
        if (hash.digest("hex") !== digest) throw new Error("digest mismatch");
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { uplinkBytes: net.uplink.bytesToClient + net.uplink.bytesToServer - before, seconds };
  } finally {
    await Promise.all(conns.map((nc) => closeBus(nc).catch(() => {})));
    await net.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const mib = (n: number) => (n / 2 ** 20).toFixed(2);
const without = await run(false);
const withCache = await run(true);
console.log(
  `${DEVICES} devices at one site, ${mib(BYTES)} MiB artifact, uplink ${(UPLINK_BYTES_PER_S * 8) / 1e6} Mbit/s`,
);
console.log("| | bytes over the uplink | time until every device has it |");
console.log("| --- | --- | --- |");
console.log(
  `| no site cache (from the hub) | ${mib(without.uplinkBytes)} MiB | ${without.seconds.toFixed(2)} s |`,
);
console.log(
  `| site cache (mirror at the site) | ${mib(withCache.uplinkBytes)} MiB | ${withCache.seconds.toFixed(2)} s |`,
);
