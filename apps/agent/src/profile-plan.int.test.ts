// Issue 4 end to end on real parts: an agent profiles itself through ONNX Runtime (as a simulated
// rpi4), the profile lands in Postgres, an operator re-profiles it over NATS rpc, imports a
// catalogue and plans it over REST and gRPC; the agent measures a real model's latency on request.

import { createHash } from "node:crypto";
import { formatCreds, loadOrCreateFleetAuth } from "@edgefleet/bus";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import { decodeJson, measureLatencyReplySchema, subjects } from "@edgefleet/protocol";
import {
  CreatePlanRequest,
  FleetServiceClient,
  GetDeviceProfileRequest,
} from "@edgefleet/protocol/grpc";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { connect, headers } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "./agent";
import { startTestStack, type TestStack, until } from "./test-stack";

let stack: TestStack;
let agent: RunningAgent;
let modelId: string;

const cost = (fp32: number, int8: number, int4: number) => ({
  flops: { fp32, int8, int4 },
  opCount: 6,
  activationBytes: 4096,
});
const variant = (name: string, accuracy: number, bytes: number, c: ReturnType<typeof cost>) => ({
  name,
  technique: name.split("-")[0],
  recipe: [{ step: name }],
  artifact: { sha256: name.padEnd(64, "0").replace(/[^0-9a-f]/g, "a"), bytes, format: "onnx" },
  onnxBytes: bytes,
  params: bytes / 4,
  flopsByOp: { MatMul: 2 * (c.flops.fp32 + c.flops.int8 + c.flops.int4) },
  accuracy,
  kernels: ["MatMul"],
  cost: c,
});
const catalogue = {
  name: "mnist-mlp",
  version: "1",
  input: { name: "input", sampleDims: [784] },
  metric: "accuracy",
  variants: [
    variant("fp32", 0.975, 3_300_000, cost(1.6e6, 0, 0)),
    variant("int8-static", 0.973, 840_000, cost(0, 1.6e6, 0)),
    variant("int4-b32", 0.968, 480_000, cost(0, 0, 1.6e6)),
  ],
};

beforeAll(async () => {
  stack = await startTestStack();
  // Planning reads the catalogue's figures; the artifacts only need to be uploaded bytes.
  for (const [i, v] of catalogue.variants.entries()) {
    const bytes = new Uint8Array(1000 + i).fill(i + 1);
    v.artifact.sha256 = await stack.upload(bytes);
    v.artifact.bytes = bytes.length;
  }
  const dir = await stack.newDataDir();
  agent = await startAgent(stack.agentConfig(dir, await stack.newEnrollmentToken()));
  await agent.profiled();
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await stack?.stop();
});

describe("profiles", () => {
  it("lands the start profile in Postgres, simulated and labelled as such", async () => {
    const res = await until("profile stored", async () => {
      const r = await stack.api(`/api/v1/devices/${agent.deviceId}/profile`);
      return r.status === 200 ? r : undefined;
    });
    expect(res.body).toMatchObject({ simulated: true, deviceClass: "rpi4", threads: 1 });
    expect(res.body.fp32Gflops).toBeGreaterThan(0);
    const profile = res.body.profile as {
      measured: unknown;
      figures: unknown;
      simulation: unknown;
    };
    // The derived figures never hide what the host measured.
    expect(profile.measured).toBeDefined();
    expect(profile.simulation).toMatchObject({ name: "rpi4" });
  });

  it("re-profiles on request over the device's rpc subject", async () => {
    const before = (await stack.api(`/api/v1/devices/${agent.deviceId}/profile`)).body.measuredAt;
    const res = await stack.api(`/api/v1/devices/${agent.deviceId}/reprofile`, { method: "POST" });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: true });
    await until(
      "a newer profile",
      async () => {
        const r = await stack.api(`/api/v1/devices/${agent.deviceId}/profile`);
        return r.body.measuredAt !== before ? r : undefined;
      },
      30_000,
    );
  }, 40_000);

  it.each([
    ["/api/v1/devices/00000000-0000-4000-8000-000000000000/profile", "GET", 404],
    ["/api/v1/devices/00000000-0000-4000-8000-000000000000/reprofile", "POST", 404],
  ])("%s %s -> %i", async (path, method, code) => {
    expect((await stack.api(path, { method })).status).toBe(code);
  });

  it("serves the profile over gRPC to authenticated callers only", async () => {
    const client = new FleetServiceClient(stack.cp.grpcAddress, credentials.createInsecure());
    const call = (md: Metadata) =>
      new Promise<{ err: ServiceError | null; simulated?: boolean; cls?: string }>((resolve) =>
        client.getDeviceProfile(
          GetDeviceProfileRequest.fromPartial({ deviceId: agent.deviceId }),
          md,
          (err, res) => resolve({ err, simulated: res?.simulated, cls: res?.deviceClass }),
        ),
      );
    const md = new Metadata();
    md.set("authorization", `Bearer ${stack.adminToken}`);
    expect(await call(md)).toMatchObject({ err: null, simulated: true, cls: "rpi4" });
    expect((await call(new Metadata())).err?.code).toBe(status.UNAUTHENTICATED);
    client.close();
  });
});

describe("catalogue and plans", () => {
  it("imports a catalogue, atomically and once", async () => {
    const res = await stack.api("/api/v1/models", {
      method: "POST",
      body: JSON.stringify(catalogue),
    });
    expect(res.status).toBe(201);
    modelId = (res.body.model as { id: string }).id;
    expect((res.body.variants as unknown[]).length).toBe(3);
    const again = await stack.api("/api/v1/models", {
      method: "POST",
      body: JSON.stringify(catalogue),
    });
    expect(again.status).toBe(409);
  });

  it.each([
    [{ ...catalogue, version: "2", variants: [] }, "variants"],
    [{ ...catalogue, version: "2", name: "bad name" }, "name"],
    [
      {
        ...catalogue,
        version: "2",
        variants: [
          { ...catalogue.variants[0], artifact: { sha256: "x", bytes: 1, format: "onnx" } },
        ],
      },
      "variants.0.artifact.sha256",
    ],
    [
      { ...catalogue, version: "2", variants: [catalogue.variants[0], catalogue.variants[0]] },
      "variants.1.name",
    ],
  ])("refuses a bad catalogue naming %#", async (body, field) => {
    const res = await stack.api("/api/v1/models", { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ field });
    const models = await stack.api("/api/v1/models");
    expect((models.body.items as unknown[]).length).toBe(1);
  });

  it("keeps the most accurate variant when the SLO is loose", async () => {
    const res = await stack.api("/api/v1/plans", {
      method: "POST",
      body: JSON.stringify({ modelId, policy: { latencySloMs: 60_000 } }),
    });
    expect(res.status).toBe(201);
    const [d] = res.body.decisions as { variantName: string; ok: boolean; reasons: string[] }[];
    expect(d).toMatchObject({ ok: true, variantName: "fp32" });
    expect(d.reasons[0]).toMatch(/fp32/);
  });

  it("explains an impossible policy", async () => {
    const res = await stack.api("/api/v1/plans", {
      method: "POST",
      body: JSON.stringify({ modelId, policy: { latencySloMs: 0.000001, accuracyFloor: 0.99 } }),
    });
    const [d] = res.body.decisions as { ok: boolean; reasons: string[] }[];
    expect(d.ok).toBe(false);
    expect(d.reasons.join(" ")).toMatch(/SLO|accuracy/);
  });

  it.each([
    [{ policy: { latencySloMs: 5 } }, 400, "modelId"],
    [{ modelId: "00000000-0000-4000-8000-000000000000" }, 400, "policy"],
    [
      { modelId: "00000000-0000-4000-8000-000000000000", policy: { latencySloMs: -1 } },
      400,
      "policy.latencySloMs",
    ],
    [
      { modelId: "00000000-0000-4000-8000-000000000000", policy: { latencySloMs: 5 } },
      404,
      undefined,
    ],
  ])("POST /plans %j -> %i", async (body, code, field) => {
    const res = await stack.api("/api/v1/plans", { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(code);
    if (field) expect(res.body.error).toMatchObject({ field });
  });

  it("plans over gRPC with the same service", async () => {
    const client = new FleetServiceClient(stack.cp.grpcAddress, credentials.createInsecure());
    const md = new Metadata();
    md.set("authorization", `Bearer ${stack.adminToken}`);
    const res = await new Promise<{ err: ServiceError | null; names: string[] }>((resolve) =>
      client.createPlan(
        CreatePlanRequest.fromPartial({ modelId, policy: { latencySloMs: 60_000 } }),
        md,
        (err, r) => resolve({ err, names: r?.decisions.map((d) => d.variantName) ?? [] }),
      ),
    );
    expect(res).toEqual({ err: null, names: ["fp32"] });
    const bad = await new Promise<ServiceError | null>((resolve) =>
      client.createPlan(CreatePlanRequest.fromPartial({ modelId: "nope" }), md, (err) =>
        resolve(err),
      ),
    );
    expect(bad?.code).toBe(status.INVALID_ARGUMENT);
    expect(bad?.details).toMatch(/^modelId/);
    client.close();
  });
});

describe("latency on request", () => {
  it("measures a real model on the device and says it is simulated", async () => {
    const auth = await loadOrCreateFleetAuth(stack.stateDir);
    const nc = await connect({
      servers: stack.nats.url,
      authenticator: (await import("@nats-io/transport-node")).credsAuthenticator(
        new TextEncoder().encode(formatCreds(auth.controlPlane.jwt, auth.controlPlane.seed)),
      ),
    });
    const model = exportOnnx(createMlp([784, 64, 10], 7));
    const h = headers();
    h.set("variantId", "00000000-0000-4000-8000-000000000001");
    h.set("batch", "8");
    const reply = await nc.request(subjects.rpc(agent.deviceId, "measure-latency"), model, {
      headers: h,
      timeout: 20_000,
    });
    const parsed = decodeJson(measureLatencyReplySchema, reply.data);
    expect(parsed).toMatchObject({ ok: true, simulated: true, deviceClass: "rpi4" });
    // Figures, not speed (a timed comparison flakes on shared cores): both batches were measured.
    if (parsed.ok) {
      expect(parsed.batchN.batch).toBe(8);
      expect(parsed.batch1.medianMs).toBeGreaterThan(0);
      expect(parsed.batchN.medianMs).toBeGreaterThan(0);
      expect(parsed.batchN.p90Ms).toBeGreaterThanOrEqual(parsed.batchN.medianMs);
    }

    const bad = await nc.request(
      subjects.rpc(agent.deviceId, "measure-latency"),
      new Uint8Array([1, 2, 3]),
      {
        headers: h,
        timeout: 20_000,
      },
    );
    expect(decodeJson(measureLatencyReplySchema, bad.data)).toMatchObject({ ok: false });
    await nc.close();
  }, 30_000);
});

describe("latency measured through the control plane", () => {
  const model = exportOnnx(createMlp([784, 64, 10], 7));
  const sha256 = createHash("sha256").update(model).digest("hex");
  let variantId: string;
  let measuredModelId: string;

  beforeAll(async () => {
    await stack.upload(model);
    const res = await stack.api("/api/v1/models", {
      method: "POST",
      body: JSON.stringify({
        ...catalogue,
        name: "tiny-mlp",
        variants: [
          {
            ...catalogue.variants[0],
            artifact: { sha256, bytes: model.length, format: "onnx" },
            onnxBytes: model.length,
          },
        ],
      }),
    });
    measuredModelId = (res.body.model as { id: string }).id;
    variantId = (res.body.variants as { id: string }[])[0].id;
  });

  it("measures on the device, stores the figures and feeds them to the planner", async () => {
    const res = await stack.api(`/api/v1/devices/${agent.deviceId}/latency-measurements`, {
      method: "POST",
      body: JSON.stringify({
        variantId,
        batch: 8,
        artifactBase64: Buffer.from(model).toString("base64"),
      }),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ ok: true, simulated: true, deviceClass: "rpi4" });
    const plan = await stack.api("/api/v1/plans", {
      method: "POST",
      body: JSON.stringify({ modelId: measuredModelId, policy: { latencySloMs: 60_000 } }),
    });
    expect(plan.body.correction).toEqual({ observations: 2 });
  }, 30_000);

  it("refuses an artifact that is not the variant's, and stores nothing", async () => {
    const other = exportOnnx(createMlp([784, 32, 10], 8));
    const res = await stack.api(`/api/v1/devices/${agent.deviceId}/latency-measurements`, {
      method: "POST",
      body: JSON.stringify({ variantId, artifactBase64: Buffer.from(other).toString("base64") }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ field: "artifactBase64" });
    const plan = await stack.api("/api/v1/plans", {
      method: "POST",
      body: JSON.stringify({ modelId: measuredModelId, policy: { latencySloMs: 60_000 } }),
    });
    expect(plan.body.correction).toEqual({ observations: 2 });
  });
});
