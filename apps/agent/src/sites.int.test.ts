// Edge sites (issue 11) end to end: a real agent connected to its site's leaf-node server gets
// its variant (desired state from the hub's domain, the artifact from the site's mirror), keeps
// serving while the site's uplink is cut, and the telemetry it sent meanwhile reaches the hub
// once the uplink returns, all of it and once.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HUB_DOMAIN, mintSiteCredentials, writeSiteServerConfig } from "@edgefleet/bus";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import { STREAMS, subjects } from "@edgefleet/protocol";
import { type LeafSiteHandle, startLeafSite } from "@edgefleet/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "./agent";
import { startTestStack, type TestStack, until } from "./test-stack";

const SITE = "lab1";
let stack: TestStack;
let net: LeafSiteHandle;
let credsDir: string;
let agent: RunningAgent;
let cpNats: NatsConnection;
let variantId: string;

beforeAll(async () => {
  credsDir = await mkdtemp(join(tmpdir(), "ef-site-creds-"));
  stack = await startTestStack(
    { edgeSites: [SITE] },
    {
      nats: async (render, auth) => {
        const credentialsPath = join(credsDir, "site.creds");
        await writeFile(credentialsPath, await mintSiteCredentials(auth, SITE), { mode: 0o600 });
        net = await startLeafSite({
          hubConfig: (ctx, leafnodes) => render(ctx, { jetStreamDomain: HUB_DOMAIN, leafnodes }),
          siteConfig: (ctx, url) =>
            writeSiteServerConfig(auth, {
              ...ctx,
              site: SITE,
              hubLeafUrls: [url],
              credentialsPath,
            }),
        });
        return net.hub;
      },
    },
  );
  cpNats = await stack.controlPlaneBus("test");
  const m = await stack.importModel({
    name: "mnist-mlp",
    variants: [{ name: "a", bytes: exportOnnx(createMlp([784, 32, 10], 1)) }],
  });
  variantId = m.variantIds.get("a")!;
  agent = await startAgent(
    stack.agentConfig(await stack.newDataDir(), await stack.newEnrollmentToken(), {
      localApi: { host: "127.0.0.1", httpPort: 0 },
      telemetryIntervalMs: 200,
      nats: { urls: [net.site.url], artifactDomain: SITE, desiredDomain: HUB_DOMAIN },
    }),
  );
  await agent.connected;
}, 90_000);

afterAll(async () => {
  await agent?.stop();
  await cpNats?.close();
  await stack?.stop();
  await net?.site.stop();
  await net?.uplink.close();
  await rm(credsDir, { recursive: true, force: true });
});

const infer = async () => {
  const res = await fetch(`${agent.localUrl}/v1/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input: Array.from({ length: 784 }, () => 0.5), dims: [1, 784] }),
  });
  return res.status;
};

/** Telemetry messages of this device in the TELEMETRY stream of a domain. */
async function telemetryCount(domain?: string): Promise<number> {
  const jsm = await jetstreamManager(cpNats, domain ? { domain } : {});
  const subject = subjects.telemetry(agent.deviceId);
  const info = await jsm.streams.info(STREAMS.telemetry.name, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

describe("an agent at an edge site", () => {
  it("gets its variant through the site and serves it", async () => {
    const res = await stack.api(`/api/v1/devices/${agent.deviceId}/assignment`, {
      method: "PUT",
      body: JSON.stringify({ variantId, options: {} }),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const generation = (res.body.desired as { generation: number }).generation;
    await until(
      "applied",
      async () => {
        const r = await stack.api(`/api/v1/devices/${agent.deviceId}/assignment`);
        const rep = r.body.reported as { generation: number; phase: string } | null;
        return rep?.generation === generation && rep.phase === "applied" ? rep : undefined;
      },
      30_000,
    );
    expect(await infer()).toBe(200);
  }, 40_000);

  it("serves through an uplink outage; its telemetry reaches the hub afterwards, once", async () => {
    for (let i = 0; i < 10; i++) expect(await infer()).toBe(200);
    await until("telemetry at the hub", async () =>
      (await telemetryCount()) > 0 ? true : undefined,
    );
    net.uplink.cut();
    const before = await telemetryCount();
    for (let i = 0; i < 20; i++) {
      expect(await infer()).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 600));
    expect(await telemetryCount()).toBe(before);
    net.uplink.restore();
    const atSite = await until(
      "the site reachable again",
      () => telemetryCount(SITE).catch(() => undefined),
      30_000,
    );
    expect(atSite).toBeGreaterThan(before);
    // Everything the site kept, and nothing twice (the agent keeps publishing: compare at rest).
    await until(
      "the hub has what the site has",
      async () => {
        const [hub, site] = await Promise.all([telemetryCount(), telemetryCount(SITE)]);
        return hub === site && hub > before ? true : undefined;
      },
      30_000,
    );
  }, 90_000);
});
