// A rollout's quality gates, device side, on real parts: a real control plane (Postgres, its own
// NATS), a real agent and real ONNX Runtime. Desired states with shadow mode and a canary set are
// written straight into KV (the rollout service that will write them is not part of this), and
// what the device produces is read raw from JetStream with the control plane's credentials:
// shadow agreement from the TELEMETRY stream, canary results from the state reports on EVENTS.
//
// Models: an MLP trained briefly on real MNIST digits (so a canary score means something), its
// EFPK-packed copy (same weights: agrees everywhere) and a copy with its classes rotated (a
// different top-1 on every input).
import { randomUUID } from "node:crypto";
import { encodeCanarySet, packModel } from "@edgefleet/artifact";
import { ensureStores } from "@edgefleet/bus";
import {
  createMlp,
  exportOnnx,
  loadMnistSplit,
  MNIST_PIXELS,
  type Split,
  trainClassifier,
} from "@edgefleet/compression";
import {
  type Assignment,
  artifactManifestSchema,
  DESIRED_NOTICE_OP,
  type DesiredState,
  encodeJson,
  runtimeOptionsSchema,
  STREAMS,
  type StateReport,
  stateReportSchema,
  subjects,
  type Telemetry,
  telemetrySchema,
} from "@edgefleet/protocol";
import type { NatsConnection } from "@nats-io/transport-node";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAgent } from "./agent";
import { type InferenceRuntime, ortRuntime, type ServingObserver, top1 } from "./serving";
import { rotateClasses } from "./serving/test-models";
import { startTestStack, type TestStack, until } from "./test-stack";

let stack: TestStack;
let agent: RunningAgent;
let dataDir: string;
let cpNats: NatsConnection;
const ids: Record<string, string> = {};

// --- models and data ----------------------------------------------------------------------------

const mnist = loadMnistSplit();
const take = (s: Split, from: number, n: number): Split => ({
  x: s.x.subarray(from * MNIST_PIXELS, (from + n) * MNIST_PIXELS),
  y: s.y.subarray(from, from + n),
  n,
});
const trained = createMlp([784, 64, 10], 1);
trainClassifier(trained, take(mnist.train, 0, 2000), {
  optimizer: "adam",
  lr: 0.003,
  epochs: 1,
  batchSize: 32,
  seed: 1,
});
const fp32 = exportOnnx(trained);
const packed = packModel(fp32, { codec: "gzip" });
const rotated = exportOnnx(rotateClasses(trained, 1));
const canarySplit = take(mnist.test, 0, 64);
const canaryBytes = encodeCanarySet({
  sampleDims: [784],
  inputs: canarySplit.x,
  labels: Int32Array.from(canarySplit.y),
});
// The same values shaped as images: as many per sample, not what the MLP takes.
const misshapenCanaryBytes = encodeCanarySet({
  sampleDims: [28, 28],
  inputs: canarySplit.x,
  labels: Int32Array.from(canarySplit.y),
});
const canaries: Record<string, NonNullable<Assignment["canary"]>> = {};
/** Live requests: test digits that are not in the canary set. */
const digit = (i: number) => take(mnist.test, 100 + i, 1).x;

/** What ONNX Runtime called directly scores on the canary set: the agent must find the same. */
async function directCanaryScore(model: Uint8Array): Promise<number> {
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({
    input: new ort.Tensor("float32", Float32Array.from(canarySplit.x), [64, 784]),
  });
  await session.release();
  const classes = top1(out[session.outputNames[0]].data as Float32Array, 64);
  return classes.filter((c, i) => c === canarySplit.y[i]).length;
}

// --- what the agent does, seen from inside ----------------------------------------------------

/** A model the agent loaded (in load order), its runs holdable at a gate. */
interface LoadProbe {
  index: number;
  runs: number;
  inFlight: number;
  released: boolean;
  gate?: Promise<void>;
}
const loads: LoadProbe[] = [];
/** The slot's view in order: answers ("answered"), model runs ("run:<load>", "done:<load>"). */
const events: string[] = [];
let comparisons = 0;

/** Real ONNX Runtime, each loaded model wrapped so the test sees and can hold its runs. */
function probedRuntime(): InferenceRuntime {
  const real = ortRuntime();
  return {
    async load(onnx, opts) {
      const model = await real.load(onnx, opts);
      const p: LoadProbe = { index: loads.length, runs: 0, inFlight: 0, released: false };
      loads.push(p);
      return {
        inputName: model.inputName,
        sampleDims: model.sampleDims,
        outputNames: model.outputNames,
        dynamicBatch: model.dynamicBatch,
        fixedBatch: model.fixedBatch,
        async run(input, batch) {
          events.push(`run:${p.index}`);
          p.runs++;
          p.inFlight++;
          try {
            await p.gate;
            return await model.run(input, batch);
          } finally {
            p.inFlight--;
            events.push(`done:${p.index}`);
          }
        },
        async release() {
          p.released = true;
          await model.release();
        },
      };
    },
  };
}

const recorder: ServingObserver = {
  onRequest: (_ms, outcome) => events.push(`answered:${outcome}`),
  onRun: () => {},
  onQueueDepth: () => {},
  onShadow: () => {
    comparisons++;
  },
};

const inference = probedRuntime();
const agentOptions = () => ({
  localApi: { host: "127.0.0.1", httpPort: 0 },
  telemetryIntervalMs: 200,
  inference,
  observers: [recorder],
});

async function infer(input: Float32Array) {
  const res = await fetch(`${agent.localUrl}/v1/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input: Array.from(input), dims: [1, 784] }),
  });
  const body = (await res.json()) as { model?: { variantId: string } };
  return { status: res.status, variantId: body.model?.variantId };
}

// --- the control plane's side, raw --------------------------------------------------------------

/** Reads a stream's messages on one subject in order, from where the last read stopped. */
class StreamReader<T> {
  private seq = 1;
  readonly messages: T[] = [];
  constructor(
    private readonly stream: string,
    private readonly subject: () => string,
    private readonly parse: (data: Uint8Array) => T | undefined,
  ) {}

  /**
   * STREAM.MSG.GET with next_by_subj, raw: the API the server has for it (nats.js types this
   * request without next_by_subj). No consumer is created, nothing is acknowledged.
   */
  async read(): Promise<T[]> {
    for (;;) {
      const reply = await cpNats.request(
        `$JS.API.STREAM.MSG.GET.${this.stream}`,
        JSON.stringify({ seq: this.seq, next_by_subj: this.subject() }),
        { timeout: 5_000 },
      );
      const r = json(reply.data) as {
        message?: { seq: number; data?: string };
        error?: { code: number; description: string };
      };
      if (r.error?.code === 404) return this.messages;
      if (!r.message) throw new Error(`${this.stream}: ${r.error?.description ?? "no message"}`);
      this.seq = r.message.seq + 1;
      const parsed = this.parse(Buffer.from(r.message.data ?? "", "base64"));
      if (parsed !== undefined) this.messages.push(parsed);
    }
  }
}

const json = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data));
const telemetry = new StreamReader<Telemetry>(
  STREAMS.telemetry.name,
  () => subjects.telemetry(agent.deviceId),
  (d) => telemetrySchema.parse(json(d)),
);
const reports = new StreamReader<StateReport>(
  STREAMS.events.name,
  () => subjects.events(agent.deviceId),
  (d) => {
    const e = json(d);
    return e.type === "state" ? stateReportSchema.parse(e) : undefined;
  },
);

/** The `nth` (1-based) state report on `generation` in `phase`, once it is on the stream. */
const reportOn = (generation: number, phase = "applied", nth = 1) =>
  until(
    `report ${nth} on generation ${generation} ${phase}`,
    async () =>
      (await reports.read()).filter((r) => r.generation === generation && r.phase === phase)[
        nth - 1
      ],
    30_000,
  );

/** Shadow counts in telemetry of `generation` (from `minEpoch` on: after a restart). */
async function shadowOf(generation: number, minEpoch = 0) {
  const mine = (await telemetry.read()).filter(
    (t) => t.generation === generation && t.epoch >= minEpoch,
  );
  return {
    compared: mine.reduce((n, t) => n + (t.shadow?.compared ?? 0), 0),
    agreed: mine.reduce((n, t) => n + (t.shadow?.agreed ?? 0), 0),
    requests: mine.reduce((n, t) => n + t.requests, 0),
    errors: mine.reduce((n, t) => n + t.errors, 0),
    epochs: new Set(mine.map((t) => t.epoch)),
  };
}

/** Waits until every comparison the agent made has reached the control plane in telemetry. */
const allComparisonsSent = (generation: number, before: number) =>
  until(
    "comparisons in telemetry",
    async () => {
      const s = await shadowOf(generation);
      return s.compared === comparisons - before ? s : undefined;
    },
    15_000,
  );

/** The variant's signed assignment as the control plane stores it, with the gates given. */
async function assignmentOf(
  variant: string,
  gates: Partial<Pick<Assignment, "shadow" | "canary">> = {},
): Promise<Assignment> {
  const prisma = (await import("@edgefleet/db")).createPrisma(stack.db.url);
  const v = await prisma.variant.findUniqueOrThrow({ where: { id: ids[variant] } });
  await prisma.$disconnect();
  return {
    manifest: artifactManifestSchema.parse(v.manifest),
    signature: v.manifestSignature ?? "",
    options: runtimeOptionsSchema.parse({}),
    shadow: gates.shadow ?? null,
    canary: gates.canary ?? null,
  };
}

/** Writes the next desired state into KV and tells the device, as the rollout service will. */
async function writeDesired(assignment: Assignment | null): Promise<number> {
  const { desired } = await ensureStores(cpNats);
  const entry = await desired.get(agent.deviceId);
  const current = entry?.value.length ? (json(entry.value) as DesiredState) : null;
  const next: DesiredState = {
    version: 1,
    deviceId: agent.deviceId,
    generation: (current?.generation ?? 0) + 1,
    updatedAt: new Date().toISOString(),
    assignment,
    rolloutId: randomUUID(),
  };
  await desired.put(agent.deviceId, encodeJson(next));
  cpNats.publish(
    subjects.rpc(agent.deviceId, DESIRED_NOTICE_OP),
    encodeJson({ generation: next.generation }),
  );
  return next.generation;
}

const expected = { fp32: 0, rotated: 0 };

beforeAll(async () => {
  stack = await startTestStack();
  cpNats = await stack.controlPlaneBus("test-control-plane");
  const m = await stack.importModel({
    name: "mnist-mlp",
    variants: [
      { name: "fp32", bytes: fp32 },
      { name: "packed", bytes: packed, format: "packed" },
      { name: "rotated", bytes: rotated },
    ],
  });
  for (const [name, id] of m.variantIds) ids[name] = id;
  // Canary sets go to the object store like any artifact (the upload sniffs EFCS).
  for (const [name, bytes] of [
    ["digits", canaryBytes],
    ["misshapen", misshapenCanaryBytes],
  ] as const) {
    canaries[name] = { digest: await stack.upload(bytes), sizeBytes: bytes.length, samples: 64 };
  }
  expected.fp32 = await directCanaryScore(fp32);
  expected.rotated = await directCanaryScore(rotated);

  dataDir = await stack.newDataDir();
  agent = await startAgent(
    stack.agentConfig(dataDir, await stack.newEnrollmentToken(), agentOptions()),
  );
  await agent.connected;
  const g = await writeDesired(await assignmentOf("fp32"));
  await reportOn(g);
}, 90_000);

afterAll(async () => {
  await agent?.stop();
  await cpNats?.close();
  await stack?.stop();
});

describe("shadow mode and canary sets on a real agent", () => {
  let gPacked = 0;
  let gRotated = 0;

  it("a variant that agrees: canary scored before the swap, shadow agreement 1.0", async () => {
    const before = comparisons;
    gPacked = await writeDesired(
      await assignmentOf("packed", { shadow: { sampleRate: 1 }, canary: canaries.digits }),
    );
    const rep = await reportOn(gPacked);
    expect(rep.serving?.variantId).toBe(ids.packed);
    expect(rep.error).toBeUndefined();
    expect(rep.canary).toEqual({
      digest: canaries.digits.digest,
      samples: 64,
      correct: expected.fp32,
    });
    expect(expected.fp32).toBeGreaterThan(0.6 * 64); // a trained model: the score means something
    expect(loads).toHaveLength(2);
    expect(loads[0].released).toBe(false); // fp32 stays loaded: it is the shadow

    for (let i = 0; i < 40; i++) {
      const r = await infer(digit(i));
      expect(r).toEqual({ status: 200, variantId: ids.packed });
    }
    const s = await allComparisonsSent(gPacked, before);
    // Sequential requests leave the shadow idle between them: (almost) every one is compared.
    expect(s.compared).toBeGreaterThanOrEqual(30);
    expect(s.agreed).toBe(s.compared);
    expect(s.errors).toBe(0);
  }, 60_000);

  it("answers before the shadow runs, and a held shadow run holds no answer", async () => {
    const shadow = loads[0];
    const primary = loads[1];
    let open = () => {};
    shadow.gate = new Promise<void>((r) => {
      open = r;
    });
    events.length = 0;
    const first = await infer(digit(50));
    expect(first).toEqual({ status: 200, variantId: ids.packed });
    await until("the shadow run started", async () =>
      events.includes(`run:${shadow.index}`) ? true : undefined,
    );
    expect(shadow.inFlight).toBe(1); // still held at its gate: the answer did not wait for it
    const held = shadow.runs;
    for (let i = 0; i < 3; i++) expect((await infer(digit(51 + i))).status).toBe(200);
    expect(shadow.runs).toBe(held); // one shadow run at a time: these were skipped, not queued
    expect(shadow.inFlight).toBe(1);
    // On the agent: the new variant ran, the request was answered, then the shadow started.
    expect(events.slice(0, 4)).toEqual([
      `run:${primary.index}`,
      `done:${primary.index}`,
      "answered:ok",
      `run:${shadow.index}`,
    ]);
    open();
    shadow.gate = undefined;
    await until("shadow run over", async () => (shadow.inFlight === 0 ? true : undefined));
  }, 30_000);

  it("a variant that disagrees: low canary score, shadow agreement 0", async () => {
    // Every comparison against gPacked is in its windows before the swap (so none is counted
    // for the next generation).
    await allComparisonsSent(gPacked, 0);
    const before = comparisons;
    gRotated = await writeDesired(
      await assignmentOf("rotated", { shadow: { sampleRate: 1 }, canary: canaries.digits }),
    );
    const rep = await reportOn(gRotated);
    expect(rep.serving?.variantId).toBe(ids.rotated);
    expect(rep.canary).toEqual({
      digest: canaries.digits.digest,
      samples: 64,
      correct: expected.rotated,
    });
    expect(expected.rotated).toBeLessThan(0.2 * 64);
    // The shadow is now packed (what served before rotated loaded); fp32 is released.
    await until("fp32 released", async () => (loads[0].released ? true : undefined));
    expect(loads[1].released).toBe(false);

    for (let i = 0; i < 40; i++) {
      expect(await infer(digit(i))).toEqual({ status: 200, variantId: ids.rotated });
    }
    const s = await until(
      "comparisons in telemetry",
      async () => {
        const x = await shadowOf(gRotated);
        return x.compared >= 30 && comparisons - before === x.compared ? x : undefined;
      },
      15_000,
    );
    // Rotated classes never name the same digit: no comparison agrees.
    expect(s.agreed).toBe(0);
  }, 60_000);

  it("after a restart: no shadow, and the reports of the generation still carry the canary", async () => {
    const epochsBefore = Math.max(...(await telemetry.read()).map((t) => t.epoch));
    await agent.stop();
    expect(loads.every((l) => l.released)).toBe(true); // the shadow too
    agent = await startAgent(stack.agentConfig(dataDir, undefined, agentOptions()));
    await agent.connected;
    const rep = await reportOn(gRotated, "applied", 2); // sent again by the new process
    expect(rep.canary).toEqual({
      digest: canaries.digits.digest,
      samples: 64,
      correct: expected.rotated,
    });
    const before = comparisons;
    for (let i = 0; i < 20; i++) expect((await infer(digit(i))).status).toBe(200);
    const s = await until(
      "telemetry after the restart",
      async () => {
        const x = await shadowOf(gRotated, epochsBefore + 1);
        return x.requests >= 20 ? x : undefined;
      },
      15_000,
    );
    expect(s.compared).toBe(0);
    expect(comparisons).toBe(before);
  }, 60_000);

  it("a canary set the model cannot take is reported with the applied state, not a crash", async () => {
    const g = await writeDesired(await assignmentOf("fp32", { canary: canaries.misshapen }));
    const rep = await reportOn(g);
    expect(rep.serving?.variantId).toBe(ids.fp32);
    expect(rep.canary).toBeUndefined();
    expect(rep.error).toMatch(
      /canary set not evaluated: canary samples are \[28, 28\], the model takes input \[784\]/,
    );
    expect(await infer(digit(0))).toEqual({ status: 200, variantId: ids.fp32 });
  }, 60_000);
});
