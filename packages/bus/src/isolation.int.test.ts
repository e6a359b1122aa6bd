// Device isolation against a real nats-server running the fleet's operator/JWT config.
import { KV_BUCKETS, OBJECT_STORES, STREAMS, subjects } from "@edgefleet/protocol";
import { type NatsServerHandle, startNatsServerWithConfig } from "@edgefleet/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { createUser, type KeyPair } from "@nats-io/nkeys";
import {
  AuthorizationError,
  connect,
  jwtAuthenticator,
  type Msg,
  type NatsConnection,
  PermissionViolationError,
} from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BusConnectError, closeBus, connectBus, connectDevice } from "./connect";
import { formatCreds } from "./creds";
import { createFleetAuth, type FleetAuth, mintDeviceCredentials } from "./fleet-auth";
import { writeServerConfig } from "./server-config";
import {
  DirectGetError,
  directGetLast,
  ensureStores,
  kvStreamName,
  objStreamName,
  readObject,
  readObjectMeta,
} from "./stores";
import { ensureStreams } from "./streams";

interface Device {
  id: string;
  kp: KeyPair;
  jwt: string;
  seed: Uint8Array;
}

let auth: FleetAuth;
let server: NatsServerHandle;
let cp: NatsConnection;
let a: Device;
let b: Device;
let ncA: NatsConnection;
const conns: NatsConnection[] = [];
/** Errors the server reported to device A's connection (publish violations arrive here). */
const statusErrors: unknown[] = [];

async function enroll(id: string): Promise<Device> {
  const kp = createUser();
  const { jwt } = await mintDeviceCredentials(auth, { deviceId: id, publicKey: kp.getPublicKey() });
  return { id, kp, jwt, seed: kp.getSeed() };
}

async function device(d: Device): Promise<NatsConnection> {
  const nc = await connectDevice({ servers: server.url, deviceId: d.id, jwt: d.jwt, seed: d.seed });
  conns.push(nc);
  return nc;
}

/** Collects what arrives on `subject` at the control plane. */
function collect(subject: string) {
  const got: Msg[] = [];
  const sub = cp.subscribe(subject, { callback: (_err, m) => void got.push(m) });
  return { got, sub };
}

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
  [a, b] = await Promise.all([enroll("dev-a"), enroll("dev-b")]);
  ncA = await device(a);
  void (async () => {
    for await (const st of ncA.status()) if (st.type === "error") statusErrors.push(st.error);
  })();
});

afterAll(async () => {
  await Promise.all(conns.map((nc) => closeBus(nc)));
  await server?.stop();
});

describe("device on its own subjects", () => {
  it("publishes telemetry, events and heartbeats that the control plane receives", async () => {
    const { got, sub } = collect("ef.v1.dev.>");
    await cp.flush();
    ncA.publish(subjects.telemetry(a.id), "t");
    ncA.publish(subjects.events(a.id), "e");
    ncA.publish(subjects.heartbeat(a.id), "h");
    await waitFor(() => got.length === 3);
    sub.unsubscribe();
    expect(got.map((m) => [m.subject, m.string()])).toEqual([
      ["ef.v1.dev.dev-a.telemetry", "t"],
      ["ef.v1.dev.dev-a.events", "e"],
      ["ef.v1.dev.dev-a.heartbeat", "h"],
    ]);
  });

  it("answers control-plane requests on its rpc subjects", async () => {
    const rpc = ncA.subscribe(subjects.rpcAll(a.id), {
      callback: (_err, m) => void m.respond(`pong:${m.subject}:${m.string()}`),
    });
    await ncA.flush();
    const reply = await cp.request(subjects.rpc(a.id, "ping"), "42", { timeout: 2_000 });
    expect(reply.string()).toBe("pong:ef.v1.rpc.dev-a.ping:42");
    rpc.unsubscribe();
  });

  it("gets replies to its own requests through its _INBOX.<id> prefix", async () => {
    const svc = cp.subscribe(`${subjects.devAll(a.id).slice(0, -1)}ask`, {
      callback: (_err, m) => void m.respond("answer"),
    });
    await cp.flush();
    const reply = await ncA.request("ef.v1.dev.dev-a.ask", "q", { timeout: 2_000 });
    expect(reply.string()).toBe("answer");
    svc.unsubscribe();
  });

  it("cannot make requests without the inbox prefix (why connectDevice sets it)", async () => {
    const plain = await connect({
      servers: server.url,
      authenticator: jwtAuthenticator(a.jwt, a.seed),
    });
    conns.push(plain);
    const svc = cp.subscribe("ef.v1.dev.dev-a.ask2", { callback: (_e, m) => void m.respond("x") });
    await cp.flush();
    const err = await plain
      .request("ef.v1.dev.dev-a.ask2", "q", { timeout: 1_000 })
      .catch((e: unknown) => e);
    expect((err as Error).cause).toBeInstanceOf(PermissionViolationError);
    expect((err as Error).cause).toMatchObject({ subject: expect.stringMatching(/^_INBOX\./) });
    svc.unsubscribe();
  });

  it("lands telemetry in the TELEMETRY stream that ensureStreams made", async () => {
    const [telemetry, events] = await ensureStreams(cp);
    await ensureStreams(cp); // idempotent: updates in place
    expect(telemetry.config.name).toBe(STREAMS.telemetry.name);
    expect(telemetry.config.max_age).toBe(24 * 3600 * 1e9);
    expect(events.config.max_age).toBe(7 * 24 * 3600 * 1e9);
    ncA.publish(subjects.telemetry(a.id), "stored");
    await ncA.flush();
    const jsm = await jetstreamManager(cp);
    const msg = await jsm.streams.getMessage(STREAMS.telemetry.name, {
      last_by_subj: subjects.telemetry(a.id),
    });
    expect(msg?.string()).toBe("stored");
  });
});

describe("device isolation", () => {
  it.each([
    ["B's rpc", "ef.v1.rpc.dev-b.>"],
    ["one B rpc op", "ef.v1.rpc.dev-b.ping"],
    ["every device's telemetry", "ef.v1.dev.>"],
    ["its own telemetry (publish-only)", "ef.v1.dev.dev-a.telemetry"],
    ["everything", ">"],
    ["B's inbox", "_INBOX.dev-b.>"],
    ["all inboxes", "_INBOX.>"],
    ["the JetStream API", "$JS.API.>"],
  ])("cannot subscribe to %s (%s)", async (_what, subject) => {
    const sub = ncA.subscribe(subject);
    const err = await Promise.race([sub.closed, tick(2_000).then(() => "still open")]);
    expect(err).toBeInstanceOf(PermissionViolationError);
    expect(err).toMatchObject({ operation: "subscription", subject });
  });

  it("never receives B's rpc traffic", async () => {
    const got: string[] = [];
    const errs: unknown[] = [];
    ncA.subscribe("ef.v1.rpc.dev-b.ping", {
      callback: (err, m) => void (err ? errs.push(err) : got.push(m.subject)),
    });
    const ncB = await device(b);
    ncB.subscribe(subjects.rpcAll(b.id), { callback: (_e, m) => void m.respond("b") });
    await ncB.flush();
    expect((await cp.request(subjects.rpc(b.id, "ping"), "", { timeout: 2_000 })).string()).toBe(
      "b",
    );
    await ncA.flush();
    expect(got).toEqual([]);
    expect(errs[0]).toBeInstanceOf(PermissionViolationError);
  });

  it.each([
    ["B's telemetry", "ef.v1.dev.dev-b.telemetry"],
    ["B's events", "ef.v1.dev.dev-b.events"],
    ["an rpc to B", "ef.v1.rpc.dev-b.reboot"],
    ["a JetStream API call", "$JS.API.STREAM.LIST"],
  ])("cannot publish to %s", async (_what, subject) => {
    const { got, sub } = collect(">");
    await cp.flush();
    const before = statusErrors.length;
    ncA.publish(subject, "forged");
    // Messages from one connection arrive in order: once the marker is here, the forged one
    // would have been too.
    ncA.publish(subjects.heartbeat(a.id), "marker");
    await waitFor(() => got.some((m) => m.string() === "marker"));
    await waitFor(() => statusErrors.length > before);
    sub.unsubscribe();
    expect(got.filter((m) => m.string() === "forged")).toEqual([]);
    expect(statusErrors[before]).toBeInstanceOf(PermissionViolationError);
    expect(statusErrors[before]).toMatchObject({ operation: "publish", subject });
  });
});

describe("desired state and artifacts", () => {
  const artifact = new Uint8Array(300 * 1024).map((_, i) => (i * 7) % 251);
  const name = "ab".repeat(32);
  const desiredSubject = (id: string) => `$KV.${KV_BUCKETS.desired}.${id}`;

  beforeAll(async () => {
    const { desired, artifacts } = await ensureStores(cp);
    await ensureStores(cp); // idempotent
    await desired.put(a.id, "desired-of-a");
    await desired.put(b.id, "desired-of-b");
    await artifacts.putBlob({ name }, artifact);
  });

  it("reads its own desired state by direct get, and nothing when there is none", async () => {
    const got = await directGetLast(ncA, kvStreamName(KV_BUCKETS.desired), desiredSubject(a.id));
    expect(got && new TextDecoder().decode(got.data)).toBe("desired-of-a");
    expect(got?.seq).toBeGreaterThan(0);
    const fresh = await enroll("dev-c");
    const ncC = await device(fresh);
    expect(
      await directGetLast(ncC, kvStreamName(KV_BUCKETS.desired), desiredSubject(fresh.id)),
    ).toBeNull();
  });

  // 15 s: on this session's machine the direct get of a missing object's meta answered its 404
  // after 3.6-5 s (the found one in 17 ms); not explained yet, see the issue 11 note.
  it("reads an artifact chunk by chunk, byte for byte", async () => {
    const parts: Uint8Array[] = [];
    const meta = await readObject(ncA, name, { onChunk: (c) => void parts.push(c) });
    expect(meta.chunks).toBe(3); // 128 KiB chunks
    expect(Buffer.concat(parts)).toEqual(Buffer.from(artifact));
    expect(await readObjectMeta(ncA, "cd".repeat(32))).toBeNull();
    await expect(readObject(ncA, "cd".repeat(32), { onChunk() {} })).rejects.toThrow(
      DirectGetError,
    );
  }, 15_000);

  it.each([
    ["B's desired state", `$JS.API.DIRECT.GET.KV_desired.$KV.desired.dev-b`, ""],
    ["any key by payload", "$JS.API.DIRECT.GET.KV_desired", '{"last_by_subj":"$KV.desired.dev-b"}'],
    ["B's desired state via the stream API", "$JS.API.STREAM.MSG.GET.KV_desired", "{}"],
    ["a consumer on artifacts", "$JS.API.CONSUMER.CREATE.OBJ_artifacts", "{}"],
    ["the artifacts stream info", "$JS.API.STREAM.INFO.OBJ_artifacts", ""],
  ])("cannot read %s", async (_what, subject, payload) => {
    const err = await ncA.request(subject, payload, { timeout: 1_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(JSON.stringify(err) + String((err as Error).cause)).toMatch(/[Pp]ermission/);
  });

  it.each([
    ["its own desired state", desiredSubject("dev-a")],
    ["B's desired state", desiredSubject("dev-b")],
    ["an artifact chunk", `$O.${OBJECT_STORES.artifacts}.C.forged`],
    ["artifact meta", `$O.${OBJECT_STORES.artifacts}.M.forged`],
    ["a purge of the artifacts", `$JS.API.STREAM.PURGE.${objStreamName("artifacts")}`],
    ["a delete of an artifact chunk", `$JS.API.STREAM.MSG.DELETE.${objStreamName("artifacts")}`],
    ["a delete of the desired bucket", `$JS.API.STREAM.DELETE.${kvStreamName("desired")}`],
  ])("cannot write or delete %s", async (_what, subject) => {
    const before = statusErrors.length;
    const jsm = await jetstreamManager(cp);
    const infoBefore = await jsm.streams.info(objStreamName("artifacts"));
    ncA.publish(subject, "forged");
    await waitFor(() => statusErrors.length > before);
    expect(statusErrors[before]).toBeInstanceOf(PermissionViolationError);
    expect(statusErrors[before]).toMatchObject({ operation: "publish", subject });
    const infoAfter = await jsm.streams.info(objStreamName("artifacts"));
    expect(infoAfter.state.messages).toBe(infoBefore.state.messages);
    const own = await directGetLast(cp, kvStreamName("desired"), desiredSubject("dev-a"));
    expect(new TextDecoder().decode(own?.data)).toBe("desired-of-a");
  });
});

describe("device credentials", () => {
  it("a JWT minted for A's key cannot be used with B's seed", async () => {
    const err = await connectDevice({
      servers: server.url,
      deviceId: a.id,
      jwt: a.jwt,
      seed: b.seed,
      timeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusConnectError);
    expect((err as Error).cause).toBeInstanceOf(AuthorizationError);
  });

  it("a JWT from another fleet's signing key is refused", async () => {
    const other = await createFleetAuth();
    const kp = createUser();
    const { jwt } = await mintDeviceCredentials(other, {
      deviceId: a.id,
      publicKey: kp.getPublicKey(),
    });
    const err = await connectDevice({
      servers: server.url,
      deviceId: a.id,
      jwt,
      seed: kp.getSeed(),
      timeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusConnectError);
  });
});
