// The local gRPC API over real ONNX Runtime on loopback, and the same answers as the HTTP API.
import type { RuntimeOptions } from "@edgefleet/protocol";
import {
  GetModelRequest,
  type GetModelResponse,
  InferRequest,
  type InferResponse,
  LocalInferenceServiceClient,
} from "@edgefleet/protocol/grpc";
import { Client, credentials, type ServiceError, status } from "@grpc/grpc-js";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { float32FromLe, float32ToLe } from "./float-bytes";
import { type RunningGrpcApi, startGrpcApi } from "./grpc-api";
import { type RunningHttpApi, startHttpApi } from "./http-api";
import { ModelSlot, type ServingMeta } from "./model-slot";
import { ortRuntime, warmUp } from "./runtime";
import { gatherTrapModel, mlpModel, mnistMlp, sampleInput } from "./test-models";

const bytes = mlpModel([8, 16, 4], 6);
const options: RuntimeOptions = { threads: 1, maxBatch: 16, maxDelayMs: 2, queueLimit: 64 };
const meta = (over: Partial<ServingMeta> = {}): ServingMeta => ({
  variantId: "v-4",
  variantName: "fp32",
  generation: 4,
  digest: "d".repeat(64),
  kernelType: "fp32",
  simulatedSlowdown: 1,
  ...over,
});

interface Served {
  slot: ModelSlot;
  grpc: RunningGrpcApi;
  http: RunningHttpApi;
  client: LocalInferenceServiceClient;
}
const started: Served[] = [];

async function serve(
  model?: Uint8Array,
  over: { meta?: Partial<ServingMeta>; options?: Partial<RuntimeOptions> } = {},
): Promise<Served> {
  const slot = new ModelSlot();
  if (model) {
    const loaded = await ortRuntime().load(model, { threads: 1, disableQuantQdq: false });
    await warmUp(loaded, 2);
    slot.swap({ model: loaded, meta: meta(over.meta), options: { ...options, ...over.options } });
  }
  const grpc = await startGrpcApi({ slot });
  const http = await startHttpApi({ slot });
  const client = new LocalInferenceServiceClient(grpc.address, credentials.createInsecure());
  const s = { slot, grpc, http, client };
  started.push(s);
  return s;
}

function infer(client: LocalInferenceServiceClient, req: Partial<InferRequest>) {
  return new Promise<InferResponse>((resolve, reject) =>
    client.infer(InferRequest.fromPartial(req), (err, res) => (err ? reject(err) : resolve(res))),
  );
}
function getModel(client: LocalInferenceServiceClient) {
  return new Promise<GetModelResponse>((resolve, reject) =>
    client.getModel(GetModelRequest.fromPartial({}), (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}
async function expectStatus(p: Promise<unknown>, code: status, field?: string) {
  const err = (await p.then(
    () => undefined,
    (e) => e,
  )) as ServiceError | undefined;
  expect(err?.code).toBe(code);
  if (field) {
    expect(err?.details).toMatch(new RegExp(`^${field}: `));
    expect(err?.metadata.get("x-edgefleet-field")).toEqual([field]);
  }
  expect(err?.details).not.toMatch(/\n\s+at /);
  return err!;
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
    s.client.close();
    await s.grpc.close();
    await s.http.close();
    await s.slot.unload().released;
  }
});

describe("LocalInferenceService", () => {
  it("HTTP JSON, HTTP binary and gRPC (bytes and values) all answer what ORT answers", async () => {
    const x = sampleInput(16, 21);
    const ref = (await reference.run({ input: new ort.Tensor("float32", x, [2, 8]) })).logits
      .data as Float32Array;
    const viaBytes = await infer(main.client, { dims: [2, 8], data: float32ToLe(x) });
    const viaValues = await infer(main.client, { values: [...x] });
    for (const res of [viaBytes, viaValues]) {
      expect(res.outputs.map((o) => [o.name, o.dims])).toEqual([["logits", [2, 4]]]);
      expect([...float32FromLe(res.outputs[0].data)]).toEqual([...ref]);
      expect(res).toMatchObject({ variantId: "v-4", variantName: "fp32", generation: 4 });
      expect(res.latencyMs).toBeGreaterThan(0);
    }
    const json = await fetch(`${main.http.url}/v1/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: [...x] }),
    });
    expect(
      ((await json.json()) as { outputs: { logits: { data: number[] } } }).outputs.logits.data,
    ).toEqual([...ref]);
    const bin = await fetch(`${main.http.url}/v1/infer`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "x-edgefleet-dims": "2,8" },
      body: float32ToLe(x),
    });
    expect([...float32FromLe(new Uint8Array(await bin.arrayBuffer()))]).toEqual([...ref]);
  });

  it.each([
    ["wrong dims", { dims: [1, 9], values: [...sampleInput(8)] }, "dims"],
    [
      "a length not matching dims (values)",
      { dims: [2, 8], values: [...sampleInput(8)] },
      "values",
    ],
    [
      "a length not matching dims (data)",
      { dims: [2, 8], data: float32ToLe(sampleInput(8)) },
      "data",
    ],
    ["bytes that are no whole float32", { data: Buffer.alloc(6) }, "data"],
    [
      "both data and values",
      { data: float32ToLe(sampleInput(8)), values: [...sampleInput(8)] },
      "data",
    ],
    ["NaN", { values: [1, 2, 3, Number.NaN, 5, 6, 7, 8] }, "values"],
    ["nothing", {}, "values"],
  ])("INVALID_ARGUMENT for %s, naming the field", async (_name, req, field) => {
    await expectStatus(infer(main.client, req), status.INVALID_ARGUMENT, field);
  });

  it("UNAVAILABLE while nothing is loaded; GetModel says so", async () => {
    const empty = await serve();
    await expectStatus(infer(empty.client, { values: [...sampleInput(8)] }), status.UNAVAILABLE);
    expect((await getModel(empty.client)).loaded).toBe(false);
  });

  it("RESOURCE_EXHAUSTED when the queue is full", async () => {
    const slow = await serve(mnistMlp(), {
      meta: { simulatedSlowdown: 150 },
      options: { maxBatch: 1, queueLimit: 1 },
    });
    const data = float32ToLe(sampleInput(784));
    const settled = await Promise.allSettled(
      Array.from({ length: 8 }, () => infer(slow.client, { data })),
    );
    const codes = settled.map((s) =>
      s.status === "fulfilled" ? 0 : (s.reason as ServiceError).code,
    );
    expect(codes.filter((c) => c === status.RESOURCE_EXHAUSTED).length).toBeGreaterThanOrEqual(1);
    expect(codes.filter((c) => c === 0).length).toBeGreaterThanOrEqual(1);
    expect(codes.every((c) => c === 0 || c === status.RESOURCE_EXHAUSTED)).toBe(true);
  });

  it("INTERNAL without a stack when the model fails on a valid request", async () => {
    const trap = await serve(gatherTrapModel());
    const err = await expectStatus(infer(trap.client, { values: [0, 9, 0, 0] }), status.INTERNAL);
    expect(err.details).toMatch(/^inference failed: .*out of data bounds/);
  });

  it("INVALID_ARGUMENT naming request when the bytes are no InferRequest; still serving", async () => {
    // A client that sends bytes as they are: what a broken or hostile client puts on the wire.
    const raw = new Client(main.grpc.address, credentials.createInsecure());
    const send = (bytes: number[]) =>
      new Promise<unknown>((resolve, reject) =>
        raw.makeUnaryRequest(
          "/edgefleet.v1.LocalInferenceService/Infer",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(bytes),
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
    try {
      // A length past the end; wire type 7 (none such); a varint that never ends.
      for (const bytes of [[0x0a, 0x7f, 1], [0x0f], [0x10, ...new Array(11).fill(0xff)]]) {
        const err = await expectStatus(send(bytes), status.INVALID_ARGUMENT, "request");
        expect(err.details).toMatch(/not a valid protobuf message/);
      }
    } finally {
      raw.close();
    }
    expect((await infer(main.client, { values: [...sampleInput(8)] })).outputs).toHaveLength(1);
  });

  it("GetModel says what is serving", async () => {
    expect(await getModel(main.client)).toEqual({
      loaded: true,
      ...meta(),
      inputName: "input",
      sampleDims: [8],
      outputNames: ["logits"],
      dynamicBatch: true,
      options,
    });
  });
});
