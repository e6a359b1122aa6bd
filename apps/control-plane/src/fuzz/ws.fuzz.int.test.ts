// Fuzz (issue 11): the WebSocket endpoint /api/v1/stream. Bad or no auth is a 401 before any
// upgrade; frames a client sends (text, binary, malformed, oversized) never take the server or
// another client down: broken frames are closed with the RFC 6455 code, others ignored.
import { once } from "node:events";
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startTestControlPlane, type TestControlPlane } from "../testing";
import { MAX_CLIENT_FRAME_BYTES, STREAM_PATH } from "../ws/fleet-stream";
import { fuzzParams } from "./fuzz-kit";

/** A client frame: masked (as RFC 6455 asks of clients) unless `unmasked`. */
function clientFrame(
  firstByte: number,
  payload: Buffer,
  opts: { unmasked?: boolean; length?: number } = {},
): Buffer {
  const length = opts.length ?? payload.length;
  const mask = opts.unmasked ? 0 : 0x80;
  const head =
    length < 126
      ? Buffer.from([firstByte, mask | length])
      : length < 65536
        ? Buffer.from([firstByte, mask | 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([firstByte, mask | 127]), u64(length)]);
  if (opts.unmasked) return Buffer.concat([head, payload]);
  const key = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ (key[i % 4] ?? 0)));
  return Buffer.concat([head, key, body]);
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** Broken frames and the close code RFC 6455 gives each. */
const brokenFrames: { kind: string; bytes: Buffer; code: number }[] = [
  { kind: "unmasked", bytes: clientFrame(0x81, Buffer.from("hi"), { unmasked: true }), code: 1002 },
  { kind: "reservedBits", bytes: clientFrame(0xc1, Buffer.from("hi")), code: 1002 },
  { kind: "unknownOpcode", bytes: clientFrame(0x83, Buffer.from("hi")), code: 1002 },
  { kind: "fragmentedPing", bytes: clientFrame(0x09, Buffer.from("hi")), code: 1002 },
  { kind: "continuationFirst", bytes: clientFrame(0x80, Buffer.from("hi")), code: 1002 },
  { kind: "badUtf8", bytes: clientFrame(0x81, Buffer.from([0xff, 0xfe, 0xc3])), code: 1007 },
  {
    kind: "oversizedLength",
    bytes: clientFrame(0x82, Buffer.alloc(8), { length: MAX_CLIENT_FRAME_BYTES + 1 }),
    code: 1009,
  },
  {
    kind: "hugeLength",
    bytes: clientFrame(0x82, Buffer.alloc(8), { length: 2 ** 53 - 1 }),
    code: 1009,
  },
];

describe("fuzz: WebSocket stream", { timeout: 60_000 }, () => {
  let t: TestControlPlane;
  let wsUrl: string;
  const tried: Record<string, number> = {};
  const count = (kind: string) => {
    tried[kind] = (tried[kind] ?? 0) + 1;
  };
  /** Connected all along: must still get the fleet's events at the end. */
  let observer: WebSocket;
  const observed: string[] = [];

  beforeAll(async () => {
    t = await startTestControlPlane();
    wsUrl = `${t.cp.httpUrl.replace("http", "ws")}${STREAM_PATH}`;
    observer = await open();
    observer.on("message", (data) => observed.push(String(data)));
  });
  afterAll(async () => {
    console.log(`fuzz inputs tried (WebSocket): ${JSON.stringify(tried)}`);
    observer?.close();
    await t?.stop();
  });

  async function open(headers: Record<string, string> = {}): Promise<WebSocket> {
    const ws = new WebSocket(wsUrl, {
      headers: { authorization: `Bearer ${t.adminToken}`, ...headers },
    });
    await once(ws, "open");
    return ws;
  }

  /** The HTTP status an upgrade with these headers is answered with. */
  function refusal(headers: Record<string, string>, protocols?: string[]): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl, protocols, { headers });
      ws.once("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once("open", () => reject(new Error("upgraded")));
      ws.once("error", () => {});
    });
  }

  it("bad or no credentials: 401 before the upgrade", async () => {
    const badToken = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom("", " ", "Bearer", "ef_", `${"x".repeat(4_000)}`, "\u0000"),
    );
    await fc.assert(
      fc.asyncProperty(badToken, fc.boolean(), async (token, asProtocol) => {
        count("badAuth");
        // What a header may carry; a subprotocol is a token (no separators).
        const safe = token.replace(/[^\x21-\x7e]/g, "x");
        const asToken = token.replace(/[^\w.-]/g, "x");
        const status = asProtocol
          ? await refusal({}, [`edgefleet.bearer.${asToken || "x"}`, "edgefleet.v1"])
          : await refusal({ authorization: `Bearer ${safe}` });
        expect(status).toBe(401);
      }),
      fuzzParams(60),
    );
    count("noAuth");
    expect(await refusal({})).toBe(401);
  });

  it("text and binary frames from a client are ignored: it stays connected", async () => {
    const ws = await open();
    const frames = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc.constantFrom(
          '{"subscribe":null}',
          '{"type":"subscribe","topics":7}',
          '{"type":"subscribe","topics":["\\u0000"]}',
        ),
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      ),
      { seed: fuzzParams(1).seed, numRuns: 150 },
    );
    for (const f of frames) ws.send(f);
    tried.clientFrames = frames.length;
    // A ping after them all is answered: the server read them and is still talking to us.
    ws.ping();
    await once(ws, "pong");
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it("an oversized frame: closed with 1009; a broken frame: its RFC 6455 close code", async () => {
    const ws = await open();
    const closed = once(ws, "close");
    ws.send(Buffer.alloc(MAX_CLIENT_FRAME_BYTES + 1));
    count("oversizedFrame");
    expect((await closed)[0]).toBe(1009);

    for (const frame of brokenFrames) {
      count(frame.kind);
      expect(await rawCloseCode(frame.bytes), frame.kind).toBe(frame.code);
    }
  });

  /** Upgrades on a bare socket, writes the bytes, returns the close code the server sends. */
  function rawCloseCode(bytes: Buffer): Promise<number> {
    const url = new URL(t.cp.httpUrl);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      let buffered = Buffer.alloc(0);
      let upgraded = false;
      socket.on("error", reject);
      socket.on("data", (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (!upgraded) {
          const end = buffered.indexOf("\r\n\r\n");
          if (end < 0) return;
          expect(buffered.subarray(0, 12).toString()).toBe("HTTP/1.1 101");
          upgraded = true;
          buffered = buffered.subarray(end + 4);
          socket.write(bytes);
        }
        // The server's close frame: 0x88, length, then the 2-byte code.
        const at = buffered.indexOf(0x88);
        if (at >= 0 && buffered.length >= at + 4) {
          resolve(buffered.readUInt16BE(at + 2));
          socket.destroy();
        }
      });
      socket.write(
        `GET ${STREAM_PATH} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${Buffer.alloc(16, 7).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n` +
          `Authorization: Bearer ${t.adminToken}\r\n\r\n`,
      );
    });
  }

  it("the client connected all along still gets the fleet's events", async () => {
    expect(observer.readyState).toBe(WebSocket.OPEN);
    const seen = observed.length;
    const device = await t.enrollDevice("ws-fuzz");
    const deadline = Date.now() + 10_000;
    while (!observed.slice(seen).some((m) => m.includes(device.deviceId))) {
      if (Date.now() > deadline) throw new Error("no event for the new device");
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
