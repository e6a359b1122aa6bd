// Reconnect behaviour against a real server that goes away and comes back on the same port, and
// waiting for a JetStream API to answer.
import { type NatsServerHandle, startNatsServer } from "@edgefleet/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { BusConnectError, type BusLogger, closeBus, connectBus } from "./connect";
import { waitForJetStream } from "./streams";

const servers: NatsServerHandle[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function recordingLogger() {
  const lines: string[] = [];
  const log = (_obj: object, msg?: string) => void lines.push(msg ?? "");
  const logger: BusLogger = { debug: log, info: log, warn: log, error: log };
  return { lines, logger };
}

let currentLines: string[] = [];
async function until(pred: () => boolean, ms = 4_000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out; log: ${JSON.stringify(currentLines)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("connectBus", () => {
  it("logs the disconnect, reconnects when the server returns, and keeps subscriptions", async () => {
    const first = await startNatsServer();
    servers.push(first);
    const { lines, logger } = recordingLogger();
    currentLines = lines;
    const nc = await connectBus({
      servers: first.url,
      name: "reconnect-test",
      logger,
      backoff: { baseMs: 20, maxMs: 100 },
    });
    const got: string[] = [];
    nc.subscribe("ping", { callback: (_e, m) => void got.push(m.string()) });
    await nc.flush();

    await first.stop();
    await until(() => lines.includes("nats disconnected"));
    const second = await startNatsServer({ config: `host: "127.0.0.1"\nport: ${first.port}\n` });
    servers.push(second);
    await until(() => lines.includes("nats reconnected"));

    nc.publish("ping", "after");
    await until(() => got.includes("after"));
    expect(lines.indexOf("nats disconnected")).toBeLessThan(lines.indexOf("nats reconnected"));
    await closeBus(nc);
    expect(nc.isClosed()).toBe(true);
  });

  it("closeBus delivers what was published before it", async () => {
    const s = await startNatsServer();
    servers.push(s);
    const sub = await connectBus({ servers: s.url, name: "sub" });
    const got: string[] = [];
    sub.subscribe("q", { callback: (_e, m) => void got.push(m.string()) });
    await sub.flush();
    const pub = await connectBus({ servers: s.url, name: "pub" });
    for (let i = 0; i < 100; i++) pub.publish("q", String(i));
    await closeBus(pub);
    await closeBus(pub); // idempotent
    await until(() => got.length === 100);
    await closeBus(sub);
  });

  it("fails the first connect with a typed error naming the servers", async () => {
    const [port] = await (await import("@edgefleet/testkit")).freePorts(1);
    const err = await connectBus({
      servers: `127.0.0.1:${port}`,
      name: "nobody-home",
      timeoutMs: 500,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusConnectError);
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });
});

describe("waitForJetStream", () => {
  it("resolves on a server with JetStream, and names the wait when there is none", async () => {
    const js = await startNatsServer({ jetstream: true });
    const plain = await startNatsServer();
    servers.push(js, plain);
    const withJs = await connectBus({ servers: js.url, name: "js" });
    const without = await connectBus({ servers: plain.url, name: "no-js" });
    try {
      await waitForJetStream(withJs, { timeoutMs: 5_000 });
      const { lines, logger } = recordingLogger();
      const t0 = Date.now();
      await expect(waitForJetStream(without, { timeoutMs: 800, logger })).rejects.toThrow(
        /JetStream did not answer within 800 ms/,
      );
      expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
      expect(lines).toContain("waiting for JetStream to answer");
    } finally {
      await Promise.all([closeBus(withJs), closeBus(without)]);
    }
  });
});
