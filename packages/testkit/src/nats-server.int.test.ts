import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import {
  freePorts,
  type NatsServerHandle,
  NatsServerStartError,
  renderNatsConfig,
  startNatsCluster,
  startNatsServer,
} from "./nats-server";

const varz = async (s: NatsServerHandle) =>
  (await (await fetch(`http://127.0.0.1:${s.httpPort}/varz`)).json()) as Record<string, unknown>;

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });

describe("startNatsServer", () => {
  const started: NatsServerHandle[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
  });

  it("serves on a free loopback port and cleans up its process and dir on stop", async () => {
    const s = await startNatsServer({ jetstream: true });
    started.push(s);
    expect(s.url).toBe(`nats://127.0.0.1:${s.port}`);
    const info = await varz(s);
    expect(info.port).toBe(s.port);
    expect(info.jetstream).toMatchObject({ config: { store_dir: expect.stringContaining(s.dir) } });
    await s.stop();
    expect(await portOpen(s.port)).toBe(false);
    expect(existsSync(s.dir)).toBe(false);
    expect(() => process.kill(s.pid, 0)).toThrow();
  });

  it("is killed and restarted on the same ports with its JetStream store kept", async () => {
    const s = await startNatsServer({ jetstream: true });
    started.push(s);
    const stream = () =>
      fetch(`http://127.0.0.1:${s.httpPort}/jsz?streams=true`).then((r) => r.json());
    const nc = await connect({ servers: s.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "KEPT", subjects: ["kept.>"] });
    await jetstream(nc).publish("kept.one", "x");
    await nc.close();
    const firstPid = s.pid;
    await s.kill();
    expect(await portOpen(s.port)).toBe(false);
    await s.restart();
    expect(s.pid).not.toBe(firstPid);
    expect(((await stream()) as { messages: number }).messages).toBe(1);
  });

  it("fills placeholders of a full config text", async () => {
    const s = await startNatsServer({
      config: 'host: "{{host}}"\nport: {{port}}\nhttp_port: {{http_port}}\nmax_payload: 4096\n',
    });
    started.push(s);
    expect((await varz(s)).max_payload).toBe(4096);
  });

  it("believes a config that names its own port (restart on the same port)", async () => {
    const first = await startNatsServer();
    await first.stop();
    const again = await startNatsServer({ config: `host: "127.0.0.1"\nport: ${first.port}\n` });
    started.push(again);
    expect(again.port).toBe(first.port);
    expect(await portOpen(first.port)).toBe(true);
  });

  it("fails with the server's log tail when the config is bad", async () => {
    const err = await startNatsServer({ config: "port: {{port}}\njetstream: {{{\n" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NatsServerStartError);
    expect((err as Error).message).toMatch(/exited \(1\); log tail:\n.*/);
  });

  it.each([
    ["{{port}}", { port: 1 }, "1"],
    ["{{ store_dir }}/x", { jetStreamDir: "/tmp/a" }, "/tmp/a/x"],
    ["{{unknown}}", {}, "{{unknown}}"],
  ])("renders %s", (text, over, want) => {
    const ctx = { host: "h", port: 0, httpPort: 0, jetStreamDir: "", serverName: "n", ...over };
    expect(renderNatsConfig(text, ctx)).toBe(want);
  });

  it("hands out distinct ports", async () => {
    const ports = await freePorts(5);
    expect(new Set(ports).size).toBe(5);
  });
});

describe("startNatsCluster", () => {
  it("forms a routed JetStream cluster with a meta leader and stops every node", async () => {
    const c = await startNatsCluster(3);
    try {
      expect(c.urls).toHaveLength(3);
      const jsz = await Promise.all(
        c.servers.map(async (s) => {
          const res = await fetch(`http://127.0.0.1:${s.httpPort}/jsz`);
          return (await res.json()) as { meta_cluster: { leader: string; cluster_size: number } };
        }),
      );
      expect(new Set(jsz.map((j) => j.meta_cluster.leader)).size).toBe(1);
      expect(jsz[0].meta_cluster.cluster_size).toBe(3);
      const routez = await (await fetch(`http://127.0.0.1:${c.servers[0].httpPort}/routez`)).json();
      expect((routez as { num_routes: number }).num_routes).toBeGreaterThanOrEqual(2);
    } finally {
      await c.stop();
    }
    for (const s of c.servers) expect(await portOpen(s.port)).toBe(false);
  }, 30_000);
});
