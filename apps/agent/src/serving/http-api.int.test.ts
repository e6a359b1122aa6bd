// The local HTTP API over real ONNX Runtime on loopback: both request forms, every refusal, and
// the metrics it exposes.
import { connect } from "node:net";
import type { RuntimeOptions } from "@edgefleet/protocol";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { float32FromLe, float32ToLe } from "./float-bytes";
import { type RunningHttpApi, startHttpApi } from "./http-api";
import { ServingMetrics } from "./metrics";
import { ModelSlot, type ServingMeta } from "./model-slot";
import { ortRuntime, warmUp } from "./runtime";
import { gatherTrapModel, mlpModel, mnistMlp, sampleInput } from "./test-models";

const bytes = mlpModel([8, 16, 4], 5);
const options: RuntimeOptions = { threads: 1, maxBatch: 16, maxDelayMs: 2, queueLimit: 64 };
const meta = (generation: number, over: Partial<ServingMeta> = {}): ServingMeta => ({
  variantId: `v-${generation}`,
  variantName: "fp32",
  generation,
  digest: "c".repeat(64),
  kernelType: "fp32",
  simulatedSlowdown: 1,
  ...over,
});

interface Served {
  slot: ModelSlot;
  api: RunningHttpApi;
  metrics: ServingMetrics;
}
const started: Served[] = [];

async function serve(
  model?: Uint8Array,
  over: {
    meta?: Partial<ServingMeta>;
    options?: Partial<RuntimeOptions>;
    maxBodyBytes?: number;
  } = {},
): Promise<Served> {
  const metrics = new ServingMetrics();
  const slot = new ModelSlot({ observer: metrics.observer });
  if (model) {
    const loaded = await ortRuntime().load(model, { threads: 1, disableQuantQdq: false });
    await warmUp(loaded, 2);
    slot.swap({
      model: loaded,
      meta: meta(3, over.meta),
      options: { ...options, ...over.options },
    });
  }
  const api = await startHttpApi({ slot, metrics, maxBodyBytes: over.maxBodyBytes });
  const s = { slot, api, metrics };
  started.push(s);
  return s;
}

let main: Served;
let reference: ort.InferenceSession;
beforeAll(async () => {
  main = await serve(bytes);
  reference = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
});
afterAll(async () => {
  await reference?.release();
  for (const s of started) {
    await s.api.close();
    await s.slot.unload().released;
  }
});

const postJson = (api: RunningHttpApi, body: unknown) =>
  fetch(`${api.url}/v1/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const postBinary = (api: RunningHttpApi, data: Uint8Array, dims?: string) =>
  fetch(`${api.url}/v1/infer`, {
    method: "POST",
    headers: {
      "content-type": "application/octet-stream",
      ...(dims === undefined ? {} : { "x-edgefleet-dims": dims }),
    },
    body: data,
  });
async function expectError(res: Response, status: number, code: string, field?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string; field?: string } };
  expect(body.error.code).toBe(code);
  if (field) expect(body.error.field).toBe(field);
  expect(JSON.stringify(body)).not.toMatch(/\n\s+at |\.ts:\d+/);
  return body.error;
}
interface InferJson {
  outputs: Record<string, { dims: number[]; data: number[] }>;
  model: { variantId: string; variantName: string; generation: number };
  latencyMs: number;
}
const inferJson = async (res: Response) => (await res.json()) as InferJson;

async function directRun(x: Float32Array, batch: number) {
  const out = await reference.run({ input: new ort.Tensor("float32", x, [batch, 8]) });
  return out.logits.data as Float32Array;
}

describe("POST /v1/infer", () => {
  it("JSON: answers what ONNX Runtime called directly answers", async () => {
    const x = sampleInput(16, 9);
    const res = await postJson(main.api, { input: [...x] });
    expect(res.status).toBe(200);
    const body = await inferJson(res);
    expect(body.outputs.logits.dims).toEqual([2, 4]);
    expect(body.outputs.logits.data).toEqual([...(await directRun(x, 2))]);
    expect(body.model).toEqual({ variantId: "v-3", variantName: "fp32", generation: 3 });
    expect(body.latencyMs).toBeGreaterThan(0);
  });

  it("JSON with explicit dims", async () => {
    const x = sampleInput(8, 10);
    const body = await inferJson(await postJson(main.api, { input: [...x], dims: [1, 8] }));
    expect(body.outputs.logits.data).toEqual([...(await directRun(x, 1))]);
  });

  it("binary: float32 LE in, the first output's float32 LE out, with its name and dims", async () => {
    const x = sampleInput(24, 11);
    const res = await postBinary(main.api, float32ToLe(x), "3,8");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("x-edgefleet-output")).toBe("logits");
    expect(res.headers.get("x-edgefleet-dims")).toBe("3,4");
    expect(res.headers.get("x-edgefleet-generation")).toBe("3");
    const out = float32FromLe(new Uint8Array(await res.arrayBuffer()));
    expect([...out]).toEqual([...(await directRun(x, 3))]);
  });

  it("binary without a dims header takes [len / sample, ...sample dims]", async () => {
    const x = sampleInput(8, 12);
    const res = await postBinary(main.api, float32ToLe(x));
    expect(res.headers.get("x-edgefleet-dims")).toBe("1,4");
    const out = float32FromLe(new Uint8Array(await res.arrayBuffer()));
    expect([...out]).toEqual([...(await directRun(x, 1))]);
  });

  it.each([
    [
      "wrong dims",
      { input: [...sampleInput(8)], dims: [1, 9] },
      "dims",
      /does not match input \[N, 8\]/,
    ],
    ["dims not numbers", { input: [...sampleInput(8)], dims: "1,8" }, "dims", /array of numbers/],
    ["wrong length for the dims", { input: [...sampleInput(8)], dims: [2, 8] }, "input", /need 16/],
    ["a length that is no whole sample", { input: [1, 2, 3] }, "input", /sample size 8/],
    ["a non-number", { input: [1, 2, 3, "NaN", 5, 6, 7, 8] }, "input", /element 3 is not a number/],
    [
      "a value beyond float32",
      { input: [1, 2, 1e39, 4, 5, 6, 7, 8] },
      "input",
      /element 2 is Infinity/,
    ],
    ["no input", { dims: [1, 8] }, "input", /array of numbers/],
    ["a JSON array", [1, 2], "body", /JSON object/],
    ["invalid JSON", '{"input": [1, 2', "body", /not valid JSON/],
  ])("JSON: 400 for %s, naming the field", async (_name, body, field, message) => {
    const err = await expectError(await postJson(main.api, body), 400, "invalid_argument", field);
    expect(err.message).toMatch(message);
  });

  it.each([
    ["a length that is no whole float32", new Uint8Array(7), "2,8", "body", /7 bytes/],
    ["wrong dims", float32ToLe(sampleInput(8)), "1,9", "x-edgefleet-dims", /does not match/],
    [
      "a malformed dims header",
      float32ToLe(sampleInput(8)),
      "1;8",
      "x-edgefleet-dims",
      /comma-separated/,
    ],
    ["a length not matching dims", float32ToLe(sampleInput(8)), "2,8", "body", /need 16/],
    [
      "NaN",
      float32ToLe(new Float32Array([1, 2, Number.NaN, 4, 5, 6, 7, 8])),
      "1,8",
      "body",
      /element 2 is NaN/,
    ],
  ])("binary: 400 for %s, naming the field", async (_name, data, dims, field, message) => {
    const err = await expectError(
      await postBinary(main.api, data, dims),
      400,
      "invalid_argument",
      field,
    );
    expect(err.message).toMatch(message);
  });

  it("415 for other content types", async () => {
    const res = await fetch(`${main.api.url}/v1/infer`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "1,2,3",
    });
    await expectError(res, 415, "unsupported_media_type", "content-type");
  });

  it("413 for a body over the cap, declared or streamed", async () => {
    const capped = await serve(bytes, { maxBodyBytes: 1024 });
    await expectError(await postBinary(capped.api, new Uint8Array(4096)), 413, "payload_too_large");
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(512));
        c.close();
      },
    });
    const res = await fetch(`${capped.api.url}/v1/infer`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    await expectError(res, 413, "payload_too_large", "body");
    // The server is fine afterwards.
    expect((await postBinary(capped.api, float32ToLe(sampleInput(8)))).status).toBe(200);
  });

  it("503 while nothing is loaded", async () => {
    const empty = await serve();
    const err = await expectError(
      await postJson(empty.api, { input: [...sampleInput(8)] }),
      503,
      "no_model",
    );
    expect(err.message).toMatch(/no model is loaded/);
    expect(await (await fetch(`${empty.api.url}/v1/model`)).json()).toEqual({ loaded: false });
  });

  it("429 with Retry-After when the queue is full", async () => {
    // A simulated slow device: each run is held ~100x its real time, so requests pile up.
    const slow = await serve(mnistMlp(), {
      meta: { simulatedSlowdown: 400 },
      options: { maxBatch: 1, queueLimit: 1 },
    });
    const x = float32ToLe(sampleInput(784));
    const responses = await Promise.all(Array.from({ length: 8 }, () => postBinary(slow.api, x)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    const refused = responses.find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toBe("1");
    await expectError(refused, 429, "queue_full");
    for (const r of responses) if (!r.bodyUsed) await r.arrayBuffer();
  });

  it("500 without a stack when the model fails on a valid request", async () => {
    const trap = await serve(gatherTrapModel());
    const err = await expectError(
      await postJson(trap.api, { input: [0, 1, 5, 0] }),
      500,
      "inference_failed",
    );
    expect(err.message).toMatch(/^inference failed: .*out of data bounds/);
    const ok = await inferJson(await postJson(trap.api, { input: [0, 1, 2, 0] }));
    expect(ok.outputs.y.data).toEqual([10, 20, 30, 10]);
  });
});

describe("other routes", () => {
  it("GET /v1/model says what is serving", async () => {
    const body = await (await fetch(`${main.api.url}/v1/model`)).json();
    expect(body).toEqual({
      loaded: true,
      ...meta(3),
      input: { name: "input", sampleDims: [8] },
      outputs: ["logits"],
      dynamicBatch: true,
      options,
    });
  });

  it("GET /healthz", async () => {
    const res = await fetch(`${main.api.url}/healthz`);
    expect(await res.json()).toEqual({ status: "ok", modelLoaded: true });
  });

  it("GET /metrics: requests by outcome, latency, runs, batch sizes, queue, generation, swaps", async () => {
    const res = await fetch(`${main.api.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/edgefleet_inference_requests_total\{outcome="ok"\} [1-9]/);
    expect(text).toMatch(/edgefleet_inference_requests_total\{outcome="rejected"\} [1-9]/);
    expect(text).toMatch(
      /edgefleet_inference_request_duration_seconds_bucket\{le="0.005",outcome="ok"\}/,
    );
    expect(text).toMatch(/edgefleet_inference_run_duration_seconds_count [1-9]/);
    expect(text).toMatch(/edgefleet_inference_batch_size_sum [1-9]/);
    expect(text).toMatch(/edgefleet_inference_queue_depth 0/);
    expect(text).toMatch(/edgefleet_model_generation 3/);
    expect(text).toMatch(/edgefleet_model_swaps_total 1/);
  });

  it.each([
    ["GET", "/v1/infer", 405, "method_not_allowed"],
    ["POST", "/v1/model", 405, "method_not_allowed"],
    ["GET", "/nope", 404, "not_found"],
  ])("%s %s -> %i", async (method, path, status, code) => {
    await expectError(await fetch(`${main.api.url}${path}`, { method }), status, code);
  });

  it("malformed HTTP gets 400 and the server keeps serving", async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(main.api.port, "127.0.0.1", () => socket.write("BLAH\r\n\r\n"));
      let data = "";
      socket.on("data", (d) => {
        data += d;
      });
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
    expect(reply).toMatch(/^HTTP\/1.1 400/);
    expect((await fetch(`${main.api.url}/healthz`)).status).toBe(200);
  });
});
