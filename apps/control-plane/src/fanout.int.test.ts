// Fanout over a real nats-server: two "replicas" on one subject each deliver what either
// publishes; a malformed message is reported and dropped; a throwing listener hurts no other.
import { type NatsServerHandle, startNatsServer, until } from "@edgefleet/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Revocation, TokenRevocations } from "./token-revocations";

let server: NatsServerHandle;
let a: NatsConnection;
let b: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  a = await connect({ servers: server.url });
  b = await connect({ servers: server.url });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await server?.stop();
});

describe("Fanout", () => {
  it("delivers to every replica's listeners, isolates throwing ones, reports bad messages", async () => {
    const here = new TokenRevocations();
    const there = new TokenRevocations();
    const bad: unknown[] = [];
    here.attach(a, "test.revoked", (err) => bad.push(err));
    there.attach(b, "test.revoked", (err) => bad.push(err));
    await Promise.all([a.flush(), b.flush()]);
    const seenHere: Revocation[] = [];
    const seenThere: Revocation[] = [];
    here.subscribe(() => {
      throw new Error("broken listener");
    });
    here.subscribe((r) => seenHere.push(r));
    const unsubscribe = there.subscribe((r) => seenThere.push(r));
    expect(there.size).toBe(1);

    here.publish({ tokenId: "t1", reason: "revoked" });
    a.publish("test.revoked", new TextEncoder().encode('{"tokenId":""}'));
    await until("both replicas delivered", async () =>
      seenHere.length && seenThere.length && bad.length === 2 ? true : undefined,
    );
    expect(seenHere).toEqual([{ tokenId: "t1", reason: "revoked" }]);
    expect(seenThere).toEqual([{ tokenId: "t1", reason: "revoked" }]);

    unsubscribe();
    there.detach();
    here.publish({ tokenId: "t2", reason: "expired" });
    await until("delivered here", async () => (seenHere.length === 2 ? true : undefined));
    expect(seenThere).toHaveLength(1);
    here.detach();
  });

  it("delivers in-process without a bus", () => {
    const local = new TokenRevocations();
    const seen: Revocation[] = [];
    local.subscribe((r) => seen.push(r));
    local.publish({ tokenId: "t3", reason: "revoked" });
    expect(seen).toEqual([{ tokenId: "t3", reason: "revoked" }]);
  });
});
