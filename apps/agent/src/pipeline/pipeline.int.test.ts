// Pipeline-split inference end to end on real parts: a control plane, its operator-mode
// nats-server, Postgres, and real agents (their own JWTs, ONNX Runtime). A 3-stage pipeline of an
// MLP built by the compression package answers like the whole model; killing the middle stage's
// device mid-stream re-plans onto the two left and every request in flight is answered once;
// bad input to create changes nothing; a stopped pipeline unloads its stages from the devices,
// answers what was in flight and refuses what comes after (409).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import type { DeviceProfileJson, FleetEvent } from "@edgefleet/protocol";
import { referenceProfile } from "@edgefleet/runtime/facts";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningAgent, startAgent } from "../agent";
import { deviceRuntime } from "../device-runtime";
import { rpiFacts, startTestStack, type TestStack, until } from "../test-stack";

const cliBin = fileURLToPath(new URL("../../../cli/bin/edgefleet.mjs", import.meta.url));
let stack: TestStack;
const agents: RunningAgent[] = [];
let small: RunningAgent;
let variantId: string;
// Balanced layers, so that three stages beat two for throughput.
const model = exportOnnx(createMlp([784, 1024, 1024, 1024, 10], 3));
const samples = Array.from({ length: 8 }, (_, s) =>
  Float32Array.from({ length: 784 }, (_, i) => ((i * (s + 3)) % 29) / 29),
);
let expected: number[][];
/** The pipeline stopped by the test below: no device loss may bring it back. */
let stoppedId: string | undefined;
const wsEvents: FleetEvent[] = [];
let ws: WebSocket;

async function wholeModel(inputs: Float32Array[]): Promise<number[][]> {
  const session = await ort.InferenceSession.create(model);
  const out: number[][] = [];
  for (const x of inputs) {
    const r = await session.run({ input: new ort.Tensor("float32", x, [1, 784]) });
    out.push(Array.from(r[session.outputNames[0]].data as Float32Array));
  }
  await session.release();
  return out;
}

/**
 * An rpi4-class device whose profile is the class's reference profile (what the control plane's
 * fixtures report), not a fresh microbenchmark: three measured profiles on 2 shared cores differ
 * by up to 1.5x, enough to flip a placement the test asserts. Stages still run in ONNX Runtime.
 */
const runtime = (memoryCapBytes?: number) => {
  const base = deviceRuntime({ threads: 1, simulatedClass: "rpi4", memoryCapBytes });
  return {
    ...base,
    readFacts: async () => rpiFacts,
    measureProfile: async () => {
      const p = referenceProfile("rpi4", { agentVersion: "0.1.0-test" });
      if (memoryCapBytes !== undefined) {
        p.figures.memoryBudgetBytes = Math.min(p.figures.memoryBudgetBytes, memoryCapBytes);
      }
      return p as unknown as DeviceProfileJson;
    },
  };
};

async function online(agent: RunningAgent) {
  await until(
    "device online with a profile",
    async () => {
      const d = await stack.api(`/api/v1/devices/${agent.deviceId}`);
      const p = await stack.api(`/api/v1/devices/${agent.deviceId}/profile`);
      return d.body.status === "online" && p.status === 200 ? true : undefined;
    },
    40_000,
    100,
  );
}

function closeTo(a: number[], b: number[]) {
  expect(a).toHaveLength(b.length);
  const worst = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
  expect(worst).toBeLessThan(1e-3);
}

const infer = (id: string, x: Float32Array) =>
  stack.api(`/api/v1/pipelines/${id}/infer`, {
    method: "POST",
    body: JSON.stringify({ input: Array.from(x), timeoutMs: 30_000 }),
  });

/** The real `edgefleet` entry as a child process. */
const cli = (...args: string[]) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const p = spawn(process.execPath, [cliBin, ...args], {
      env: {
        ...process.env,
        EDGEFLEET_URL: stack.cp.httpUrl,
        EDGEFLEET_TOKEN: stack.adminToken,
      },
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) => resolve({ code, out, err }));
  });

beforeAll(async () => {
  // A lost device is seen by its missing heartbeats. 3 s, not the fixture's 1 s: in CI (test
  // suites side by side on 2 cores) a live in-process agent's heartbeat was late past 1 s, it
  // went offline, and the pipeline was re-planned once more than the test meant (plan 3, not 2).
  stack = await startTestStack({ heartbeatTimeoutMs: 3_000 });
  const token = await stack.newEnrollmentToken(4);
  for (let i = 0; i < 3; i++) {
    const a = await startAgent(
      stack.agentConfig(await stack.newDataDir(), token, {
        name: `pipe-${i + 1}`,
        runtime: runtime(),
      }),
    );
    agents.push(a);
  }
  // A device too small for any stage: 30 MiB, below ONNX Runtime's own footprint in the model.
  small = await startAgent(
    stack.agentConfig(await stack.newDataDir(), token, {
      name: "tiny",
      runtime: runtime(30 * 2 ** 20),
    }),
  );
  await Promise.all([...agents, small].map(online));
  const imported = await stack.importModel({
    name: "mlp-1024",
    variants: [{ name: "fp32", bytes: model }],
  });
  variantId = imported.variantIds.get("fp32") as string;
  expected = await wholeModel(samples);
  ws = new WebSocket(`${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
  });
  ws.on("message", (d) => wsEvents.push(JSON.parse(String(d))));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
}, 120_000);

afterAll(async () => {
  ws?.close();
  await Promise.all([...agents, small].map((a) => a?.stop().catch(() => {})));
  await stack?.stop();
});

describe("bad input to create changes nothing", () => {
  it.each([
    [
      "an unknown variant",
      () => ({
        variantId: "00000000-0000-4000-8000-000000000000",
        deviceIds: [agents[0].deviceId],
      }),
      "variantId",
    ],
    ["no devices", () => ({ variantId, deviceIds: [] }), "deviceIds"],
    [
      "an unknown device",
      () => ({ variantId, deviceIds: ["00000000-0000-4000-8000-000000000001"] }),
      "deviceIds.0",
    ],
    [
      "a model that cannot fit its devices (fp32 only)",
      () => ({ variantId, deviceIds: [small.deviceId], precisions: ["fp32"] }),
      "deviceIds",
    ],
    [
      "a bad objective",
      () => ({ variantId, deviceIds: [agents[0].deviceId], objective: "fastest" }),
      "objective",
    ],
  ])("%s -> 400 naming %s", async (_name, body, field) => {
    const res = await stack.api("/api/v1/pipelines", {
      method: "POST",
      body: JSON.stringify(body()),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_argument", field });
    const list = await stack.api("/api/v1/pipelines");
    expect(list.body.items).toEqual([]);
  });

  it("a viewer may not create one", async () => {
    const res = await stack.api("/api/v1/pipelines", {
      method: "POST",
      token: await stack.apiToken("viewer"),
      body: JSON.stringify({ variantId, deviceIds: [agents[0].deviceId] }),
    });
    expect(res.status).toBe(403);
  });
});

describe("stopping a pipeline", () => {
  it("drops every stage from its device, answers requests in flight, then refuses them (409)", async () => {
    const created = await stack.api("/api/v1/pipelines", {
      method: "POST",
      body: JSON.stringify({
        name: "to-stop",
        variantId,
        deviceIds: agents.slice(0, 2).map((a) => a.deviceId),
        precisions: ["fp32"],
      }),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    stoppedId = id;
    const holders = (created.body.stages as { deviceId: string }[]).map(
      (s) => agents.find((a) => a.deviceId === s.deviceId) as RunningAgent,
    );
    for (const a of holders) expect(a.stages?.pipelines).toContain(id);
    expect((await infer(id, samples[0])).status).toBe(200);

    const viewer = await stack.apiToken("viewer");
    const denied = await stack.api(`/api/v1/pipelines/${id}/stop`, {
      method: "POST",
      token: viewer,
      body: "{}",
    });
    expect(denied.status).toBe(403);
    const viewerInfer = await stack.api(`/api/v1/pipelines/${id}/infer`, {
      method: "POST",
      token: viewer,
      body: JSON.stringify({ input: Array.from(samples[0]) }),
    });
    expect(viewerInfer.status).toBe(403);

    // Requests sent just before the stop: each answered (200) or refused (409), none hangs.
    const inflight = samples.map((x) => infer(id, x));
    const res = await stack.api(`/api/v1/pipelines/${id}/stop`, {
      method: "POST",
      body: JSON.stringify({ reason: "maintenance" }),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe("stopped");
    expect(res.body.error).toMatch(/^stopped by apitoken:.*: maintenance$/);
    for (const r of await Promise.all(inflight)) {
      expect([200, 409], JSON.stringify(r.body)).toContain(r.status);
      if (r.status === 409) expect(r.body.error).toMatchObject({ message: /is stopped/ });
    }
    // The devices dropped (and unloaded) their stage.
    for (const a of holders) expect(a.stages?.pipelines).not.toContain(id);

    const after = await infer(id, samples[0]);
    expect(after.status).toBe(409);
    expect(after.body.error).toMatchObject({ code: "conflict", message: /pipeline is stopped/ });
    // Through the CLI: shown as stopped, and a second stop is refused naming the state.
    const shown = await cli("pipelines", "show", id);
    expect(shown.out).toMatch(/: stopped, plan 1/);
    expect(shown.out).toMatch(/error: stopped by apitoken:.*: maintenance/);
    const again = await cli("pipelines", "stop", id, "--reason", "twice");
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^edgefleet: error: .*already stopped/);
    const live = await until("pipeline.updated stopped on the stream", async () =>
      wsEvents.find(
        (e) =>
          e.type === "pipeline.updated" &&
          e.data?.pipelineId === id &&
          e.data?.status === "stopped",
      ),
    );
    expect(String((live.data?.reasons as string[] | undefined)?.[0])).toMatch(/maintenance/);
  }, 60_000);
});

describe("a 3-stage pipeline", () => {
  let id: string;

  it("is placed on three devices, each stage from its own signed artifact", async () => {
    const res = await stack.api("/api/v1/pipelines", {
      method: "POST",
      body: JSON.stringify({
        variantId,
        deviceIds: agents.map((a) => a.deviceId),
        precisions: ["fp32"],
      }),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    id = res.body.id as string;
    const stages = res.body.stages as { deviceId: string; precision: string; segments: number[] }[];
    expect(stages).toHaveLength(3);
    expect(new Set(stages.map((s) => s.deviceId)).size).toBe(3);
    expect(stages.map((s) => s.segments)).toEqual([
      [0, 0],
      [1, 1],
      [2, 3],
    ]);
    expect((res.body.reasons as string[])[0]).toMatch(
      /^cost model \(throughput\): 3 stages on pipe-/,
    );
  });

  it("answers like the whole model", async () => {
    for (const [i, x] of samples.entries()) {
      const res = await infer(id, x);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.dims).toEqual([1, 10]);
      closeTo(res.body.output as number[], expected[i]);
    }
  });

  it("answers through the CLI too (edgefleet pipelines show / infer)", async () => {
    const shown = await cli("pipelines", "show", id);
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toMatch(/plan 1, cost-model, throughput/);
    const inferred = await cli("pipelines", "infer", id, "--input", "mnist:7", "--json");
    expect(inferred.code, inferred.err).toBe(0);
    const answer = JSON.parse(inferred.out) as { output: number[]; dims: number[] };
    expect(answer.dims).toEqual([1, 10]);
    const seven = createRequire(import.meta.url)("mnist")[7].get(0) as number[];
    closeTo(answer.output, (await wholeModel([Float32Array.from(seven)]))[0]);
    const bad = await cli("pipelines", "infer", id, "--input", "mnist:12");
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/--input mnist:<digit> takes a digit 0-9/);
  }, 60_000);

  it("refuses an input of the wrong size, naming the field", async () => {
    const res = await stack.api(`/api/v1/pipelines/${id}/infer`, {
      method: "POST",
      body: JSON.stringify({ input: [1, 2, 3] }),
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ field: "input" });
  });

  it("a stage accepts activations only from the upstream device its plan names", async () => {
    const p = await stack.api(`/api/v1/pipelines/${id}`);
    const stages = p.body.stages as { deviceId: string }[];
    const last = agents.find((a) => a.deviceId === stages[2].deviceId) as RunningAgent;
    const first = agents.find((a) => a.deviceId === stages[0].deviceId) as RunningAgent;
    const before = last.stages?.refused.length ?? 0;
    // The first stage's device sends to the last directly, skipping the middle: refused.
    const { headers } = await import("@nats-io/transport-node");
    const h = headers();
    h.set("ef-request", "forged");
    h.set("ef-plan", "1");
    h.set("ef-dims", "1,1024");
    first.nc?.publish(`ef.v1.peer.${last.deviceId}.${first.deviceId}.${id}`, new Uint8Array(2048), {
      headers: h,
    });
    await until(
      "refusal",
      async () => ((last.stages?.refused.length ?? 0) > before ? true : undefined),
      5_000,
    );
    expect(last.stages?.refused.at(-1)?.reason).toMatch(/^from .*, the plan names /);
  });

  it("loses its middle device mid-stream, re-plans onto the two left, and answers every request once", async () => {
    const p = await stack.api(`/api/v1/pipelines/${id}`);
    const middle = (p.body.stages as { deviceId: string }[])[1].deviceId;
    const victim = agents.find((a) => a.deviceId === middle) as RunningAgent;
    const n = 24;
    const results: Promise<{ status: number; body: Record<string, unknown> }>[] = [];
    for (let i = 0; i < n; i++) {
      results.push(infer(id, samples[i % samples.length]));
      if (i === 8) await victim.stop("killed by the test");
      await new Promise((r) => setTimeout(r, 40));
    }
    const done = await Promise.all(results);
    for (const [i, r] of done.entries()) {
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      closeTo(r.body.output as number[], expected[i % samples.length]);
    }
    // One answer per request, each its own id; some went through plan 2 after a retry.
    expect(new Set(done.map((r) => r.body.requestId)).size).toBe(n);
    expect(done.some((r) => r.body.planVersion === 2)).toBe(true);
    const after = await stack.api(`/api/v1/pipelines/${id}`);
    expect(after.body.planVersion).toBe(2);
    const stages = after.body.stages as { deviceId: string }[];
    expect(stages.length).toBe(2);
    expect(stages.map((s) => s.deviceId)).not.toContain(middle);
    expect((after.body.reasons as string[])[0]).toMatch(
      /^re-planned \(plan 2\) after losing device/,
    );
    // The re-plan was live on the WebSocket stream, with its reasons.
    const live = await until("pipeline.updated plan 2 on the stream", async () =>
      wsEvents.find((e) => e.type === "pipeline.updated" && e.data?.planVersion === 2),
    );
    expect(live.data).toMatchObject({ pipelineId: id, status: "running" });
    expect(String((live.data?.reasons as string[] | undefined)?.[0])).toMatch(/^re-planned/);
  }, 60_000);

  it("loses its first stage next: re-planned onto the one device left, nothing lost", async () => {
    const p = await stack.api(`/api/v1/pipelines/${id}`);
    const first = (p.body.stages as { deviceId: string }[])[0].deviceId;
    const victim = agents.find((a) => a.deviceId === first) as RunningAgent;
    const results: Promise<{ status: number; body: Record<string, unknown> }>[] = [];
    for (let i = 0; i < 12; i++) {
      results.push(infer(id, samples[i % samples.length]));
      if (i === 4) await victim.stop("killed by the test");
      await new Promise((r) => setTimeout(r, 40));
    }
    const done = await Promise.all(results);
    for (const [i, r] of done.entries()) {
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      closeTo(r.body.output as number[], expected[i % samples.length]);
    }
    const after = await stack.api(`/api/v1/pipelines/${id}`);
    expect(after.body.planVersion).toBe(3);
    expect((after.body.stages as unknown[]).length).toBe(1);
  }, 60_000);

  it("with no device left it fails, says why, and refuses requests (503), not hangs", async () => {
    const p = await stack.api(`/api/v1/pipelines/${id}`);
    const last = (p.body.stages as { deviceId: string }[])[0].deviceId;
    const pending = infer(id, samples[0]);
    await (agents.find((a) => a.deviceId === last) as RunningAgent).stop("killed by the test");
    const failed = await until("pipeline failed", async () => {
      const r = await stack.api(`/api/v1/pipelines/${id}`);
      return r.body.status === "failed" ? r : undefined;
    });
    expect(failed.body.error).toMatch(/no device of the pipeline is online/);
    const answered = await pending;
    // Answered before the loss, or refused by the failure: never left hanging.
    expect([200, 503]).toContain(answered.status);
    const refused = await infer(id, samples[0]);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: "unavailable" });
    // Its devices are all gone too, yet the stopped pipeline was not re-planned.
    const stopped = await stack.api(`/api/v1/pipelines/${stoppedId}`);
    expect(stopped.body).toMatchObject({ status: "stopped", planVersion: 1 });
  }, 60_000);
});
