// Dispatch on the control plane's side, against a real nats-server (operator mode), Postgres and
// HTTP: artifact uploads, signed manifests, desired state in KV with a change notice, state
// reports from a device identity, telemetry folded once, /metrics.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { verifySignedManifest } from "@edgefleet/artifact";
import { directGetLast, kvStreamName, readObject } from "@edgefleet/bus";
import { createPrisma } from "@edgefleet/db";
import {
  DESIRED_NOTICE_OP,
  decodeJson,
  desiredStateSchema,
  encodeJson,
  type FleetEvent,
  KV_BUCKETS,
  kvSubject,
  type StateReport,
  subjects,
  type Telemetry,
} from "@edgefleet/protocol";
import { LatencySketch } from "@edgefleet/telemetry";
import { until } from "@edgefleet/testkit";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { SIGNING_KEY_FILE } from "./signing-key";
import { startTestControlPlane, type TestControlPlane } from "./testing";

let stack: TestControlPlane;
let ws: WebSocket;
const wsEvents: FleetEvent[] = [];
const modelBytes = randomBytes(200_000);

const put = (path: string, body: Uint8Array | string, type = "application/octet-stream") =>
  fetch(`${stack.cp.httpUrl}${path}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": type },
    body,
  });

beforeAll(async () => {
  stack = await startTestControlPlane({ maxArtifactBytes: 1_000_000 });
  ws = new WebSocket(`${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
  });
  ws.on("message", (d) => wsEvents.push(JSON.parse(String(d))));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
}, 30_000);

afterAll(async () => {
  ws?.close();
  await stack?.stop();
});

describe("artifact upload", () => {
  const sha = createHash("sha256").update(modelBytes).digest("hex");

  it.each([
    [
      "a body that does not hash to the path",
      "ab".repeat(32),
      modelBytes,
      undefined,
      400,
      "sha256",
    ],
    ["a path that is not a sha256", "not-a-digest", modelBytes, undefined, 400, "sha256"],
    ["JSON instead of bytes", sha, "{}", "application/json", 415, undefined],
    [
      "more than the limit",
      createHash("sha256").update(randomBytes(1)).digest("hex"),
      randomBytes(1_000_001),
      undefined,
      413,
      undefined,
    ],
  ])("refuses %s and stores nothing", async (_what, digest, body, type, status, field) => {
    const res = await put(`/api/v1/artifacts/${digest}`, body, type);
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { field?: string; message: string } };
    if (field) expect(json.error.field).toBe(field);
    expect(JSON.stringify(json)).not.toMatch(/at .*\.ts:\d+/);
    expect((await stack.api(`/api/v1/artifacts/${digest}`)).status).toBe(404);
  });

  it("stores the bytes once under their sha256, readable from the object store", async () => {
    const first = await put(`/api/v1/artifacts/${sha}`, modelBytes);
    expect(first.status).toBe(201);
    const again = await put(`/api/v1/artifacts/${sha}`, modelBytes);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ created: false });
    const got = await stack.api(`/api/v1/artifacts/${sha}`);
    expect(got.body).toMatchObject({
      sha256: sha,
      sizeBytes: modelBytes.length,
      mediaType: "application/onnx",
    });
    const parts: Uint8Array[] = [];
    const nc = (await stack.enrollDevice("reader")).nc;
    await readObject(nc, sha, { onChunk: (c) => void parts.push(c) });
    expect(Buffer.concat(parts).equals(modelBytes)).toBe(true);
  });
});

describe("model import", () => {
  it("refuses variants whose artifact was not uploaded, and writes nothing", async () => {
    const missing = randomBytes(64).toString("hex").slice(0, 64);
    const res = await stack.api("/api/v1/models", {
      method: "POST",
      body: JSON.stringify({
        name: "nope",
        version: "1",
        input: { name: "input", sampleDims: [4] },
        metric: "accuracy",
        variants: [
          {
            name: "fp32",
            technique: "base",
            recipe: [],
            artifact: { sha256: missing, bytes: 10, format: "onnx" },
            onnxBytes: 10,
            params: 2,
            flopsByOp: {},
            accuracy: 0.5,
            kernels: [],
            cost: { flops: { fp32: 1 }, opCount: 1, activationBytes: 1 },
          },
        ],
      }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ field: "variants.0.artifact.sha256" });
    const models = await stack.api("/api/v1/models");
    expect((models.body.items as unknown[]).length).toBe(0);
  });

  it("signs every variant's manifest with the control plane's key", async () => {
    const { modelId, variantIds } = await stack.importModel({
      name: "signed",
      variants: [{ name: "fp32", bytes: modelBytes, accuracy: 0.97 }],
    });
    const prisma = createPrisma(stack.db.url);
    const v = await prisma.variant.findUniqueOrThrow({ where: { id: variantIds.get("fp32")! } });
    await prisma.$disconnect();
    const key = JSON.parse(await readFile(join(stack.stateDir, SIGNING_KEY_FILE), "utf8"));
    const manifest = verifySignedManifest(v.manifest, v.manifestSignature, key.publicKeyPem);
    expect(manifest).toMatchObject({
      digest: createHash("sha256").update(modelBytes).digest("hex"),
      sizeBytes: modelBytes.length,
      model: { id: modelId, name: "signed", version: "1" },
      variant: { id: v.id, name: "fp32" },
      quality: { metric: "accuracy", value: 0.97 },
      runtime: { kernelType: "fp32", disableQuantQdq: false },
    });
    const view = await stack.api(`/api/v1/models/${modelId}`);
    expect((view.body.variants as { signed: boolean }[])[0].signed).toBe(true);
  });
});

describe("assignment, desired state and reports", () => {
  let deviceId: string;
  let device: NatsConnection;
  let variantId: string;
  let other: string;

  beforeAll(async () => {
    ({ deviceId, nc: device } = await stack.enrollDevice("pi-7"));
    const m = await stack.importModel({
      name: "assignable",
      variants: [
        { name: "fp32", bytes: modelBytes },
        { name: "int8", bytes: randomBytes(50_000), kernelType: "int8" },
      ],
    });
    variantId = m.variantIds.get("fp32")!;
    other = m.variantIds.get("int8")!;
  });

  const readKv = async () => {
    const m = await directGetLast(
      device,
      kvStreamName(KV_BUCKETS.desired),
      kvSubject(KV_BUCKETS.desired, deviceId),
    );
    return m ? decodeJson(desiredStateSchema, m.data) : null;
  };

  it.each([
    [
      "an unknown device",
      "00000000-0000-4000-8000-000000000000",
      { variantId: null },
      404,
      undefined,
    ],
    ["no variantId", "self", {}, 400, "variantId"],
    ["a variantId that is not a uuid", "self", { variantId: "fp32" }, 400, "variantId"],
    [
      "an unknown variant",
      "self",
      { variantId: "00000000-0000-4000-8000-000000000000" },
      404,
      undefined,
    ],
    [
      "bad options",
      "self",
      { variantId: "self", options: { maxBatch: 0 } },
      400,
      "options.maxBatch",
    ],
  ])("refuses %s and writes nothing", async (_what, id, body, status, field) => {
    const target = id === "self" ? deviceId : id;
    const b = body as { variantId?: string };
    if (b.variantId === "self") b.variantId = variantId;
    const res = await stack.api(`/api/v1/devices/${target}/assignment`, {
      method: "PUT",
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(status);
    if (field) expect(res.body.error).toMatchObject({ field });
    expect(await readKv()).toBeNull();
  });

  it("writes generations that only go up, and tells the device", async () => {
    const notices: number[] = [];
    device.subscribe(subjects.rpc(deviceId, DESIRED_NOTICE_OP), {
      callback: (_e, m) => void notices.push(JSON.parse(m.string()).generation),
    });
    await device.flush();
    const assign = (body: unknown) =>
      stack.api(`/api/v1/devices/${deviceId}/assignment`, {
        method: "PUT",
        body: JSON.stringify(body),
      });
    const a = await assign({ variantId, options: { maxBatch: 4 } });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({
      desired: { generation: 1, variantId, variantName: "fp32" },
      reported: null,
      inSync: false,
    });
    const kv = await readKv();
    expect(kv).toMatchObject({
      generation: 1,
      deviceId,
      assignment: { options: { maxBatch: 4, maxDelayMs: 0 } },
    });
    expect(kv?.assignment?.manifest.variant.id).toBe(variantId);
    expect((await assign({ variantId: other })).body).toMatchObject({ desired: { generation: 2 } });
    expect((await assign({ variantId: null })).body).toMatchObject({
      desired: { generation: 3, variantId: null },
    });
    expect((await readKv())?.assignment).toBeNull();
    await until("three notices", async () => (notices.length === 3 ? true : undefined));
    expect(notices).toEqual([1, 2, 3]);
    // Stream events come through NATS fan-out, on their own path: they may trail the notices.
    const assigned = () =>
      wsEvents.filter((e) => e.type === "device.assigned" && e.deviceId === deviceId);
    await until("three events on the stream", async () =>
      assigned().length >= 3 ? true : undefined,
    );
    expect(assigned()).toHaveLength(3);
  });

  it("stores the device's reports newest first, drops stale ones, and streams them", async () => {
    const js = jetstream(device);
    const report = (r: Partial<StateReport>): StateReport => ({
      type: "state",
      sentAt: Date.now(),
      generation: 3,
      phase: "applied",
      serving: null,
      ...r,
    });
    await js.publish(
      subjects.events(deviceId),
      encodeJson(report({ phase: "applying", step: "download" })),
    );
    await js.publish(subjects.events(deviceId), encodeJson(report({ phase: "applied" })));
    await js.publish(
      subjects.events(deviceId),
      encodeJson(report({ generation: 2, phase: "failed", error: "old news" })),
    );
    const view = await until("report stored", async () => {
      const r = await stack.api(`/api/v1/devices/${deviceId}`);
      const d = r.body.deployment as { reported: { phase: string } | null; inSync: boolean };
      return d.reported?.phase === "applied" ? d : undefined;
    });
    expect(view.inSync).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    const after = await stack.api(`/api/v1/devices/${deviceId}/assignment`);
    expect(after.body).toMatchObject({
      reported: { generation: 3, phase: "applied", error: null },
    });
    await until("state on the stream", async () =>
      wsEvents.find((e) => e.type === "device.state" && e.deviceId === deviceId),
    );
  });
});

describe("telemetry", () => {
  let deviceId: string;
  let device: NatsConnection;
  let variantId: string;

  beforeAll(async () => {
    ({ deviceId, nc: device } = await stack.enrollDevice("cam-1"));
    variantId = (
      await stack.importModel({
        name: "watched",
        variants: [{ name: "fp32", bytes: randomBytes(1000) }],
      })
    ).variantIds.get("fp32")!;
  });

  const message = (seq: number, latencies: number[]): Telemetry => {
    const sketch = new LatencySketch();
    for (const ms of latencies) sketch.record(ms);
    const start = Date.now() - 5_000;
    return {
      version: 1,
      epoch: 1,
      seq,
      windowStart: start,
      windowEnd: start + 5_000,
      variantId,
      generation: 1,
      requests: latencies.length,
      errors: 0,
      rejected: 0,
      latency: sketch.toSummary(),
      runBatch1: sketch.toSummary(),
      runs: latencies.length,
      samples: latencies.length,
      queueDepth: 0,
      queueDepthMax: 2,
      cpuPercent: 12,
      rssBytes: 90e6,
      simulated: false,
      deviceClass: "",
      droppedBefore: 0,
      shadow: null,
    };
  };

  it("folds each message once, resends included, into rollups and the planner's observations", async () => {
    const js = jetstream(device);
    const m0 = message(
      0,
      Array.from({ length: 100 }, (_, i) => 1 + i / 100),
    );
    const m1 = message(
      1,
      Array.from({ length: 100 }, () => 3),
    );
    await js.publish(subjects.telemetry(deviceId), encodeJson(m0), { msgID: `${deviceId}:1:0` });
    await js.publish(subjects.telemetry(deviceId), encodeJson(m1), { msgID: `${deviceId}:1:1` });
    // A resend whose first ack was lost, with a new message id (outside the stream's dedup).
    await js.publish(subjects.telemetry(deviceId), encodeJson(m0), { msgID: "resend" });
    await js.publish(subjects.telemetry(deviceId), encodeJson({ nope: true }));
    const t = await until("rollup", async () => {
      const r = await stack.api(`/api/v1/devices/${deviceId}/telemetry?minutes=10`);
      const s = r.body.summary as { requests: number };
      return s.requests >= 200 ? r.body : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    const again = await stack.api(`/api/v1/devices/${deviceId}/telemetry?minutes=10`);
    expect(again.body.summary).toMatchObject({ requests: 200, errors: 0 });
    const s = t.summary as { p50Ms: number; p95Ms: number };
    expect(s.p95Ms).toBeCloseTo(3, 1);
    const prisma = createPrisma(stack.db.url);
    const observations = await prisma.latencyObservation.findMany({
      where: { deviceId, source: "telemetry" },
    });
    await prisma.$disconnect();
    expect(observations.length).toBeGreaterThanOrEqual(1);
    expect(observations.every((o) => o.variantId === variantId && o.batch === 1)).toBe(true);
    await until("telemetry on the stream", async () =>
      wsEvents.find((e) => e.type === "device.telemetry" && e.deviceId === deviceId),
    );
    const metrics = await (await fetch(`${stack.cp.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/edgefleet_telemetry_messages_total\{outcome="folded"\} 2/);
    expect(metrics).toMatch(/edgefleet_telemetry_messages_total\{outcome="duplicate"\} 1/);
    expect(metrics).toMatch(/edgefleet_telemetry_messages_total\{outcome="malformed"\} 1/);
    expect(metrics).toMatch(
      /edgefleet_devices\{status="online"\}|edgefleet_devices\{status="enrolled"\}/,
    );
    expect(metrics).toMatch(
      /edgefleet_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/devices\/:id\/telemetry",status="200"\}/,
    );
  });

  it("folds telemetry of a variant the catalogue does not hold, without blocking what follows", async () => {
    const js = jetstream(device);
    const stranger = randomUUID();
    await js.publish(
      subjects.telemetry(deviceId),
      encodeJson({ ...message(2, [5, 5, 5]), variantId: stranger }),
    );
    await js.publish(subjects.telemetry(deviceId), encodeJson(message(3, [7, 7])));
    const r = await until("both folded", async () => {
      const body = (await stack.api(`/api/v1/devices/${deviceId}/telemetry?minutes=10`)).body;
      return (body.summary as { requests: number }).requests >= 205 ? body : undefined;
    });
    const variants = r.variants as { variantId: string; summary: { requests: number } }[];
    expect(variants.find((v) => v.variantId === stranger)?.summary.requests).toBe(3);
    const prisma = createPrisma(stack.db.url);
    const strange = await prisma.latencyObservation.count({ where: { variantId: stranger } });
    await prisma.$disconnect();
    expect(strange).toBe(0);
  });

  it.each([
    ["minutes=0", "minutes"],
    ["variantId=x", "variantId"],
  ])("GET telemetry?%s -> 400 naming %s", async (query, field) => {
    const r = await stack.api(`/api/v1/devices/${deviceId}/telemetry?${query}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ field });
  });
});

describe("a second control-plane replica", () => {
  it("shows its WebSocket clients the events another replica handled", async () => {
    const replica = await stack.startReplica();
    try {
      const seen: FleetEvent[] = [];
      const ws2 = new WebSocket(`${replica.httpUrl.replace("http", "ws")}/api/v1/stream`, {
        headers: { authorization: `Bearer ${stack.adminToken}` },
      });
      ws2.on("message", (d) => seen.push(JSON.parse(String(d))));
      await new Promise((resolve, reject) => ws2.once("open", resolve).once("error", reject));
      // The first replica enrolls a device and assigns it a variant.
      const { deviceId } = await stack.enrollDevice("far-away");
      const m = await stack.importModel({
        name: "fanout",
        variants: [{ name: "fp32", bytes: randomBytes(500) }],
      });
      await stack.api(`/api/v1/devices/${deviceId}/assignment`, {
        method: "PUT",
        body: JSON.stringify({ variantId: m.variantIds.get("fp32") }),
      });
      await until("both events on the other replica", async () =>
        ["device.enrolled", "device.assigned"].every((t) =>
          seen.some((e) => e.type === t && e.deviceId === deviceId),
        )
          ? true
          : undefined,
      );
      // Each event once, not once per replica.
      expect(
        seen.filter((e) => e.type === "device.assigned" && e.deviceId === deviceId),
      ).toHaveLength(1);
      ws2.close();
    } finally {
      await replica.stop();
    }
  });
});

describe("gRPC", () => {
  it("assigns and reads a deployment over the same service as REST", async () => {
    const { FleetServiceClient, AssignVariantRequest, GetDeviceDeploymentRequest } = await import(
      "@edgefleet/protocol/grpc"
    );
    const { credentials, Metadata, status } = await import("@grpc/grpc-js");
    const { deviceId } = await stack.enrollDevice("grpc-dev");
    const m = await stack.importModel({
      name: "grpc-model",
      variants: [{ name: "fp32", bytes: randomBytes(300) }],
    });
    const client = new FleetServiceClient(stack.cp.grpcAddress, credentials.createInsecure());
    const md = new Metadata();
    md.set("authorization", `Bearer ${stack.adminToken}`);
    const assigned = await new Promise<{ err: unknown; gen?: number }>((resolve) =>
      client.assignVariant(
        AssignVariantRequest.fromPartial({
          deviceId,
          variantId: m.variantIds.get("fp32"),
          options: { maxBatch: 8 },
        }),
        md,
        (err, res) => resolve({ err, gen: res?.deployment?.desired?.generation }),
      ),
    );
    expect(assigned).toEqual({ err: null, gen: 1 });
    const read = await new Promise<{ err: unknown; name?: string }>((resolve) =>
      client.getDeviceDeployment(
        GetDeviceDeploymentRequest.fromPartial({ deviceId }),
        md,
        (err, res) => resolve({ err, name: res?.deployment?.desired?.variantName }),
      ),
    );
    expect(read).toEqual({ err: null, name: "fp32" });
    const bad = await new Promise<{ code?: number; details?: string }>((resolve) =>
      client.assignVariant(
        AssignVariantRequest.fromPartial({ deviceId, variantId: "nope" }),
        md,
        (err) => resolve({ code: err?.code, details: err?.details }),
      ),
    );
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/^variantId/);
    client.close();
  });
});
