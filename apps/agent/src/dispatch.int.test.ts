// Dispatch end to end on real parts: an assignment made over REST reaches a real agent over NATS
// (its own JWT), which verifies, loads and serves the variant; its local API answers exactly as
// ONNX Runtime does on the same artifact; telemetry lands in Postgres rollups, on the WebSocket
// stream and in /metrics. Then what must never break serving: a corrupted artifact, a wrong
// signature, an unsigned manifest, a variant that fails to load, one that crashes in service,
// and a restart while NATS is unreachable.
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { join } from "node:path";
import {
  generateSigningKey,
  keyId,
  packModel,
  signManifest,
  unpackModel,
} from "@edgefleet/artifact";
import { ensureStores } from "@edgefleet/bus";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import { DataType, GraphBuilder } from "@edgefleet/onnx";
import {
  DESIRED_NOTICE_OP,
  type DesiredState,
  encodeJson,
  type FleetEvent,
  subjects,
} from "@edgefleet/protocol";
import type { NatsConnection } from "@nats-io/transport-node";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningAgent, startAgent } from "./agent";
import { startTestStack, type TestStack, until } from "./test-stack";

let stack: TestStack;
let agent: RunningAgent;
let dataDir: string;
let cpNats: NatsConnection;
const wsEvents: FleetEvent[] = [];
let ws: WebSocket;

const modelA = exportOnnx(createMlp([784, 64, 10], 1));
const modelB = exportOnnx(createMlp([784, 32, 10], 2));
const packedB = packModel(modelB, { codec: "gzip" });
const sample = Float32Array.from({ length: 784 }, (_, i) => ((i * 13) % 17) / 17);
const ids: Record<string, string> = {};

async function ortReference(model: Uint8Array, input: Float32Array): Promise<number[]> {
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({ input: new ort.Tensor("float32", input, [1, 784]) });
  await session.release();
  return Array.from(out[session.outputNames[0]].data as Float32Array);
}

async function infer(input: Float32Array = sample) {
  const res = await fetch(`${agent.localUrl}/v1/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input: Array.from(input), dims: [1, 784] }),
  });
  const body = (await res.json()) as {
    outputs: Record<string, { data: number[] }>;
    model: { variantId: string; generation: number };
  };
  return { status: res.status, body, values: Object.values(body.outputs ?? {})[0]?.data };
}

const assign = async (variantId: string | null, options = {}) => {
  const res = await stack.api(`/api/v1/devices/${agent.deviceId}/assignment`, {
    method: "PUT",
    body: JSON.stringify({ variantId, options }),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body.desired as { generation: number }).generation;
};

/** Waits until the device reports on `generation` in one of `phases`. */
const reported = (generation: number, phases: string[], ms = 20_000) =>
  until(
    `generation ${generation} ${phases.join("/")}`,
    async () => {
      const r = await stack.api(`/api/v1/devices/${agent.deviceId}/assignment`);
      const rep = r.body.reported as {
        generation: number;
        phase: string;
        error: string | null;
        serving: { variantId: string } | null;
      } | null;
      return rep && rep.generation === generation && phases.includes(rep.phase) ? rep : undefined;
    },
    ms,
  );

/** Writes desired state straight into the KV bucket (as a compromised or buggy writer would). */
async function writeDesired(mutate: (d: DesiredState) => DesiredState) {
  const { desired } = await ensureStores(cpNats);
  const entry = await desired.get(agent.deviceId);
  const current = JSON.parse(new TextDecoder().decode(entry!.value)) as DesiredState;
  const next = mutate({ ...current, generation: current.generation + 1 });
  await desired.put(agent.deviceId, encodeJson(next));
  cpNats.publish(
    subjects.rpc(agent.deviceId, DESIRED_NOTICE_OP),
    encodeJson({ generation: next.generation }),
  );
  return next.generation;
}

beforeAll(async () => {
  stack = await startTestStack();
  cpNats = await stack.controlPlaneBus("test-writer");
  ws = new WebSocket(`${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
  });
  ws.on("message", (d) => wsEvents.push(JSON.parse(String(d))));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));

  const garbage = new Uint8Array(4096).fill(7); // not ONNX: ORT cannot load it
  const m = await stack.importModel({
    name: "mnist-mlp",
    variants: [
      { name: "a", bytes: modelA },
      { name: "b", bytes: packedB, format: "packed" },
      { name: "c", bytes: exportOnnx(createMlp([784, 16, 10], 3)) },
      { name: "broken", bytes: garbage },
    ],
  });
  for (const [name, id] of m.variantIds) ids[name] = id;

  dataDir = await stack.newDataDir();
  agent = await startAgent(
    stack.agentConfig(dataDir, await stack.newEnrollmentToken(), {
      localApi: { host: "127.0.0.1", httpPort: 0, grpcPort: 0 },
      telemetryIntervalMs: 200,
    }),
  );
  await agent.connected;
}, 60_000);

afterAll(async () => {
  ws?.close();
  await agent?.stop();
  await cpNats?.close();
  await stack?.stop();
});

describe("a variant through the fleet", () => {
  it("answers 503 while nothing is assigned", async () => {
    expect((await infer()).status).toBe(503);
  });

  it("reaches the device, is verified, loaded and served; answers equal ONNX Runtime's", async () => {
    const g = await assign(ids.a);
    const rep = await reported(g, ["applied"]);
    expect(rep.serving?.variantId).toBe(ids.a);
    const got = await infer();
    expect(got.status).toBe(200);
    expect(got.body.model).toMatchObject({ variantId: ids.a, generation: g });
    const want = await ortReference(modelA, sample);
    for (const [i, v] of got.values.entries()) expect(v).toBeCloseTo(want[i], 5);
    const device = await stack.api(`/api/v1/devices/${agent.deviceId}`);
    expect(device.body.deployment).toMatchObject({ inSync: true, desired: { generation: g } });
    await until("state on the stream", async () =>
      wsEvents.find((e) => e.type === "device.state" && e.deviceId === agent.deviceId),
    );
  }, 30_000);

  it("streams its latency into rollups, the WebSocket stream and /metrics", async () => {
    for (let i = 0; i < 40; i++) expect((await infer()).status).toBe(200);
    const t = await until(
      "rollups",
      async () => {
        const r = await stack.api(`/api/v1/devices/${agent.deviceId}/telemetry?minutes=5`);
        const s = r.body.summary as { requests: number; p50Ms: number | null };
        return s.requests >= 41 ? s : undefined;
      },
      10_000,
    );
    expect(t.p50Ms).toBeGreaterThan(0);
    await until("telemetry on the stream", async () =>
      wsEvents.find(
        (e) =>
          e.type === "device.telemetry" &&
          e.deviceId === agent.deviceId &&
          Number((e.data as { requests?: number }).requests) > 0,
      ),
    );
    const cp = await (await fetch(`${stack.cp.httpUrl}/metrics`)).text();
    expect(cp).toMatch(/edgefleet_telemetry_messages_total\{outcome="folded"\} [1-9]/);
    const local = await (await fetch(`${agent.localUrl}/metrics`)).text();
    expect(local).toMatch(/ok/);
  }, 30_000);

  it("swaps to a packed variant and serves it unpacked", async () => {
    const g = await assign(ids.b);
    await reported(g, ["applied"]);
    const got = await infer();
    expect(got.body.model.variantId).toBe(ids.b);
    const want = await ortReference(unpackModel(packedB), sample);
    for (const [i, v] of got.values.entries()) expect(v).toBeCloseTo(want[i], 5);
  }, 30_000);
});

describe("what never breaks serving", () => {
  const stillServingB = async () => {
    const got = await infer();
    expect(got.status).toBe(200);
    expect(got.body.model.variantId).toBe(ids.b);
  };

  it("a corrupted artifact is refused; the previous variant keeps serving", async () => {
    // The bytes in the object store under c's digest are damaged (at rest or in transit).
    const { artifacts } = await ensureStores(cpNats);
    const desired = (await stack.api(`/api/v1/devices/${agent.deviceId}/assignment`)).body;
    expect(desired).toBeTruthy();
    const prisma = (await import("@edgefleet/db")).createPrisma(stack.db.url);
    const c = await prisma.variant.findUniqueOrThrow({ where: { id: ids.c } });
    await prisma.$disconnect();
    const damaged = new Uint8Array(Number(c.shippedBytes)).fill(1);
    await artifacts.putBlob({ name: c.artifactDigest! }, damaged);
    const g = await assign(ids.c);
    const rep = await reported(g, ["failed"], 60_000);
    expect(rep.error).toMatch(/hash/);
    expect(rep.serving?.variantId).toBe(ids.b);
    await stillServingB();
  }, 90_000);

  it("a manifest signed by another key is refused", async () => {
    const other = generateSigningKey();
    const g = await writeDesired((d) => ({
      ...d,
      assignment: d.assignment && {
        ...d.assignment,
        manifest: { ...d.assignment.manifest, keyId: keyId(other.publicKeyPem) },
        signature: signManifest(
          { ...d.assignment.manifest, keyId: keyId(other.publicKeyPem) },
          other.privateKeyPem,
        ),
      },
    }));
    const rep = await reported(g, ["failed"]);
    expect(rep.error).toMatch(/manifest refused/);
    await stillServingB();
  });

  it("a tampered manifest (its signature no longer matches) is refused", async () => {
    const g = await writeDesired((d) => ({
      ...d,
      assignment: d.assignment && {
        ...d.assignment,
        manifest: { ...d.assignment.manifest, quality: { metric: "accuracy", value: 0.999 } },
      },
    }));
    const rep = await reported(g, ["failed"]);
    expect(rep.error).toMatch(/manifest refused/);
    await stillServingB();
  });

  it("an unsigned manifest is refused", async () => {
    const g = await writeDesired((d) => ({
      ...d,
      assignment: d.assignment && { ...d.assignment, signature: "" },
    }));
    const rep = await reported(g, ["failed"]);
    expect(rep.error).toMatch(/manifest refused/);
    await stillServingB();
  });

  it("a variant that fails to load is given up after a few tries", async () => {
    const g = await assign(ids.broken);
    const rep = await reported(g, ["failed"], 60_000);
    await until(
      "given up",
      async () => {
        const r = await stack.api(`/api/v1/devices/${agent.deviceId}/assignment`);
        const e = (r.body.reported as { error: string | null }).error ?? "";
        return e.includes("gave up") ? e : undefined;
      },
      60_000,
    );
    expect(rep.serving?.variantId).toBe(ids.b);
    await stillServingB();
  }, 90_000);
});

describe("a variant that crashes in service", () => {
  let good: string;
  let trap: string;
  const x = (v: number) => ({ input: [v, v, v, v], dims: [1, 4] });
  const call = async (v: number) => {
    const res = await fetch(`${agent.localUrl}/v1/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(x(v)),
    });
    return { status: res.status, body: (await res.json()) as { model?: { variantId: string } } };
  };

  beforeAll(async () => {
    const relu = new GraphBuilder();
    relu.input("x", DataType.FLOAT, ["N", 4]);
    relu.node("Relu", ["x"], ["y"]);
    relu.output("y", DataType.FLOAT, ["N", 4]);
    // Gather from a 3-entry table at int(x): fine on the zeros of warm-up, fails for x >= 3.
    const gather = new GraphBuilder();
    gather.input("x", DataType.FLOAT, ["N", 4]);
    const table = gather.initializer("table", DataType.FLOAT, [3], [10, 20, 30]);
    const [idx] = gather.node("Cast", ["x"], 1, { attrs: { to: DataType.INT64 } });
    gather.node("Gather", [table, idx], ["y"], { attrs: { axis: 0 } });
    gather.output("y", DataType.FLOAT, ["N", 4]);
    const m = await stack.importModel({
      name: "trap",
      input: { name: "x", sampleDims: [4] },
      variants: [
        { name: "good", bytes: relu.toBytes() },
        { name: "trap", bytes: gather.toBytes() },
      ],
    });
    good = m.variantIds.get("good")!;
    trap = m.variantIds.get("trap")!;
  });

  it("is replaced by the last good variant, and the agent says so", async () => {
    await reported(await assign(good), ["applied"]);
    const g = await assign(trap);
    await reported(g, ["applied"]);
    expect((await call(1)).body.model?.variantId).toBe(trap);
    for (let i = 0; i < 6; i++) await call(7); // out of the table: every run fails
    const rep = await reported(g, ["rolled-back"]);
    expect(rep.error).toMatch(/failed 5 runs in a row/);
    expect(rep.serving?.variantId).toBe(good);
    const after = await call(7);
    expect(after.status).toBe(200);
    expect(after.body.model?.variantId).toBe(good);
  }, 60_000);
});

/** The device's request count in the rollups once nothing more arrives for a while. */
async function stableRequests(): Promise<number> {
  const read = async () => {
    const r = await stack.api(`/api/v1/devices/${agent.deviceId}/telemetry?minutes=10`);
    return (r.body.summary as { requests: number }).requests;
  };
  let last = await read();
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await read();
    if (now === last) return now;
    last = now;
  }
}

describe("offline", () => {
  /** A TCP path to nats-server that the test can cut and restore, like a device's uplink. */
  let link: Server | undefined;
  const sockets = new Set<Socket>();
  let linkPort = 0;
  const linkUp = () =>
    new Promise<void>((resolve) => {
      link = createServer((client) => {
        const upstream = tcpConnect(stack.nats.port, "127.0.0.1");
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on("error", drop).on("close", drop);
        upstream.on("error", drop).on("close", drop);
      });
      link.listen(linkPort, "127.0.0.1", () => {
        linkPort = (link!.address() as { port: number }).port;
        resolve();
      });
    });
  const linkDown = async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise((r) => link?.close(r));
  };

  afterAll(async () => {
    await linkDown();
  });

  it("restarts with NATS unreachable, serves its last variant, and converges when back", async () => {
    await reported(await assign(ids.a), ["applied"]);
    await agent.stop();
    // The device reaches NATS through the link from now on; the link is down.
    await linkUp();
    await linkDown();
    const path = join(dataDir, "identity.json");
    const identity = JSON.parse(await readFile(path, "utf8"));
    await writeFile(
      path,
      JSON.stringify({ ...identity, natsUrls: [`nats://127.0.0.1:${linkPort}`] }),
    );

    agent = await startAgent(
      stack.agentConfig(dataDir, undefined, {
        localApi: { host: "127.0.0.1", httpPort: 0 },
        telemetryIntervalMs: 200,
      }),
    );
    const offline = await infer();
    expect(offline.status).toBe(200);
    expect(offline.body.model.variantId).toBe(ids.a);
    const requestsBefore = await stableRequests();
    for (let i = 0; i < 25; i++) expect((await infer()).status).toBe(200);
    // While it is away the operator moves it to another variant.
    const g = await assign(ids.b);
    await new Promise((r) => setTimeout(r, 600)); // several telemetry windows close offline

    await linkUp();
    await agent.connected;
    await reported(g, ["applied"]);
    expect((await infer()).body.model.variantId).toBe(ids.b);
    // Everything served offline arrives once: 26 requests while away, 1 after.
    const after = await until(
      "offline telemetry",
      async () => {
        const r = await stack.api(`/api/v1/devices/${agent.deviceId}/telemetry?minutes=10`);
        const n = (r.body.summary as { requests: number }).requests;
        return n >= requestsBefore + 27 ? n : undefined;
      },
      15_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const settled = await stack.api(`/api/v1/devices/${agent.deviceId}/telemetry?minutes=10`);
    expect((settled.body.summary as { requests: number }).requests).toBe(after);
    expect(after).toBe(requestsBefore + 27);
  }, 90_000);
});
