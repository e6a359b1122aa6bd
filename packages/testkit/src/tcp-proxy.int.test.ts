import { connect, createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProcess } from "./process";
import { startTcpProxy } from "./tcp-proxy";

/** An echo server on a free loopback port. */
async function echoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, port: (server.address() as import("node:net").AddressInfo).port };
}

function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let got = 0;
    sock.on("connect", () => sock.write(payload));
    sock.on("data", (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= payload.length) {
        sock.end();
        resolve(Buffer.concat(chunks));
      }
    });
    sock.on("error", reject);
    sock.on("close", () => got < payload.length && reject(new Error(`closed after ${got} bytes`)));
  });
}

describe("startTcpProxy", () => {
  let a: { server: Server; port: number };
  let b: { server: Server; port: number };
  beforeAll(async () => {
    a = await echoServer();
    b = await echoServer();
  });
  afterAll(() => {
    a.server.close();
    b.server.close();
  });

  it("relays, counts, cuts, restores and throttles", async () => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: a.port });
    const payload = Buffer.alloc(64 * 1024, 7);
    expect((await roundTrip(proxy.port, payload)).equals(payload)).toBe(true);
    expect(proxy.bytesToServer).toBe(payload.length);
    expect(proxy.bytesToClient).toBe(payload.length);

    proxy.cut();
    await expect(roundTrip(proxy.port, payload)).rejects.toThrow();
    proxy.restore();
    expect((await roundTrip(proxy.port, payload)).length).toBe(payload.length);

    proxy.setRate(256 * 1024);
    const started = Date.now();
    await roundTrip(proxy.port, Buffer.alloc(128 * 1024, 1));
    // 128 KiB at 256 KiB/s: about half a second, not the microseconds of loopback.
    expect(Date.now() - started).toBeGreaterThan(300);
    await proxy.close();
  });

  it("cuts connections that are already open", async () => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: a.port });
    const sock = connect(proxy.port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    const closed = new Promise((r) => sock.once("close", r));
    await new Promise((r) => setTimeout(r, 50));
    expect(proxy.connections).toBe(1);
    proxy.cut();
    await closed;
    expect(proxy.connections).toBe(0);
    await proxy.close();
  });

  it("sends new connections to a retargeted server", async () => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: a.port });
    a.server.close();
    await expect(roundTrip(proxy.port, Buffer.from("x"))).rejects.toThrow();
    proxy.retarget({ host: "127.0.0.1", port: b.port });
    expect((await roundTrip(proxy.port, Buffer.from("hello"))).toString()).toBe("hello");
    await proxy.close();
  });
});

describe("startProcess", () => {
  it("waits for a ready line, reports output and the signal that ended it", async () => {
    const proc = await startProcess({
      name: "sleeper",
      command: process.execPath,
      args: ["-e", "console.log('ready on 42'); setInterval(() => {}, 1000)"],
      env: {},
      ready: /ready on \d+/,
    });
    expect(proc.output()).toContain("ready on 42");
    await proc.kill("SIGKILL");
    expect(await proc.exited).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("fails naming the process when it exits before it is ready", async () => {
    await expect(
      startProcess({
        name: "quitter",
        command: process.execPath,
        args: ["-e", "console.error('bad config'); process.exit(3)"],
        env: {},
        ready: /listening/,
      }),
    ).rejects.toThrow(/quitter exited before.*\n.*bad config/s);
  });
});
