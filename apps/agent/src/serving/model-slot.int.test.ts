// ModelSlot over real ONNX Runtime sessions: validation, batching, the bounded queue, run failures,
// the simulated device's slowdown, and swaps under concurrent requests.
import type { ArtifactManifest, RuntimeOptions } from "@edgefleet/protocol";
import * as ort from "onnxruntime-node";
import { afterEach, describe, expect, it } from "vitest";
import {
  InferenceFailedError,
  InvalidInputError,
  InvalidServingModelError,
  ManifestMismatchError,
  NoModelError,
  QueueFullError,
} from "./errors";
import {
  type InferResult,
  ModelSlot,
  type RunFailure,
  type ServingMeta,
  type ServingModel,
  type ServingObserver,
} from "./model-slot";
import { prepareModel } from "./prepare";
import { type InferenceRuntime, type LoadedModel, ortRuntime, warmUp } from "./runtime";
import { gatherTrapModel, mlpModel, mnistMlp, reshapeTrapModel, sampleInput } from "./test-models";

const runtime = ortRuntime();
const small = mlpModel([8, 16, 4], 3);
const baseOptions: RuntimeOptions = { threads: 1, maxBatch: 16, maxDelayMs: 2, queueLimit: 256 };
let generation = 0;
const slots: ModelSlot[] = [];

function meta(over: Partial<ServingMeta> = {}): ServingMeta {
  generation++;
  return {
    variantId: `variant-${generation}`,
    variantName: "fp32",
    generation,
    digest: "a".repeat(64),
    kernelType: "fp32",
    simulatedSlowdown: 1,
    ...over,
  };
}

async function ready(
  bytes: Uint8Array,
  over: { meta?: Partial<ServingMeta>; options?: Partial<RuntimeOptions> } = {},
): Promise<ServingModel> {
  const model = await runtime.load(bytes, { threads: 1, disableQuantQdq: false });
  await warmUp(model, 2);
  return { model, meta: meta(over.meta), options: { ...baseOptions, ...over.options } };
}

function newSlot(observer?: Partial<ServingObserver>, onRunFailure?: (f: RunFailure) => void) {
  const full: ServingObserver = {
    onRequest: () => {},
    onRun: () => {},
    onQueueDepth: () => {},
    ...observer,
  };
  const slot = new ModelSlot({ observer: full, onRunFailure });
  slots.push(slot);
  return slot;
}

afterEach(async () => {
  await Promise.all(slots.splice(0).map((s) => s.unload().released));
});

/** What ORT called directly answers for `x` with dims `dims`. */
async function direct(bytes: Uint8Array, x: Float32Array, dims: number[]) {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const inputName = s.inputNames[0];
  const out = await s.run({ [inputName]: new ort.Tensor("float32", x, dims) });
  await s.release();
  return out;
}

/** Records, around a real model, when runs happen and when it was released. */
function tracked(model: LoadedModel) {
  const log = { runsInProgress: 0, runs: 0, releasedAt: 0, runAfterRelease: false };
  const wrapped: LoadedModel = {
    ...model,
    inputName: model.inputName,
    sampleDims: model.sampleDims,
    outputNames: model.outputNames,
    dynamicBatch: model.dynamicBatch,
    async run(input, batch) {
      if (log.releasedAt) log.runAfterRelease = true;
      log.runsInProgress++;
      log.runs++;
      try {
        return await model.run(input, batch);
      } finally {
        log.runsInProgress--;
      }
    },
    async release() {
      log.releasedAt = performance.now();
      await model.release();
    },
  };
  return { model: wrapped, log };
}

describe("ModelSlot", () => {
  it("refuses with NoModelError while nothing is loaded", async () => {
    const outcomes: string[] = [];
    const slot = newSlot({ onRequest: (_ms, o) => outcomes.push(o) });
    expect(slot.current()).toBeNull();
    expect(slot.describe()).toBeNull();
    await expect(slot.infer(new Float32Array(8))).rejects.toBeInstanceOf(NoModelError);
    expect(outcomes).toEqual(["rejected"]);
  });

  it("answers like ONNX Runtime called directly, and says which model answered", async () => {
    const runs: number[] = [];
    const slot = newSlot({ onRun: (b) => runs.push(b) });
    const next = await ready(small);
    slot.swap(next);
    expect(slot.current()).toEqual(next.meta);
    expect(slot.describe()).toMatchObject({
      inputName: "input",
      sampleDims: [8],
      outputNames: ["logits"],
      dynamicBatch: true,
      options: baseOptions,
    });
    const x = sampleInput(24);
    const res = await slot.infer(x, [3, 8]);
    const ref = await direct(small, x, [3, 8]);
    expect(res.outputs.map((o) => o.name)).toEqual(["logits"]);
    expect(res.outputs[0].dims).toEqual([3, 4]);
    expect([...res.outputs[0].data]).toEqual([...(ref.logits.data as Float32Array)]);
    expect(res.model).toEqual(next.meta);
    expect(res.latencyMs).toBeGreaterThan(0);
    expect(runs).toEqual([3]);
  });

  it("refuses a bad request naming the field, and runs nothing", async () => {
    const runs: number[] = [];
    const slot = newSlot({ onRun: (b) => runs.push(b) });
    slot.swap(await ready(small));
    const err = await slot.infer(new Float32Array(8), [1, 9]).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.field).toBe("dims");
    expect(runs).toEqual([]);
  });

  it("stacks concurrent requests into few runs and splits the outputs back", async () => {
    const runs: number[] = [];
    const slot = newSlot({ onRun: (b) => runs.push(b) });
    slot.swap(await ready(small));
    const inputs = Array.from({ length: 20 }, (_, i) => sampleInput(8, i + 1));
    const results = await Promise.all(inputs.map((x) => slot.infer(x)));
    // Arriving in one tick, they are stacked up to maxBatch: FIFO, 16 then 4.
    expect(runs).toEqual([16, 4]);
    for (const [i, x] of inputs.entries()) {
      const ref = await direct(small, x, [1, 8]);
      expect([...results[i].outputs[0].data]).toEqual([...(ref.logits.data as Float32Array)]);
      expect(results[i].outputs[0].dims).toEqual([1, 4]);
    }
  });

  it("maxBatch 1 runs every request alone", async () => {
    const runs: number[] = [];
    const slot = newSlot({ onRun: (b) => runs.push(b) });
    slot.swap(await ready(small, { options: { maxBatch: 1 } }));
    await Promise.all(Array.from({ length: 6 }, (_, i) => slot.infer(sampleInput(8, i))));
    expect(runs).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it("refuses with QueueFullError beyond queueLimit waiting requests", async () => {
    const depths: number[] = [];
    const outcomes: string[] = [];
    const slot = newSlot({
      onQueueDepth: (d) => depths.push(d),
      onRequest: (_ms, o) => outcomes.push(o),
    });
    slot.swap(await ready(small, { options: { maxBatch: 1, queueLimit: 2 } }));
    // All six arrive in one tick: with batching off the first runs at once, two wait, three find
    // the queue full.
    const settled = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => slot.infer(sampleInput(8, i))),
    );
    const refused = settled.filter(
      (s) => s.status === "rejected" && s.reason instanceof QueueFullError,
    );
    expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(3);
    expect(refused).toHaveLength(3);
    expect(Math.max(...depths)).toBe(2);
    expect(depths.at(-1)).toBe(0);
    expect(outcomes.filter((o) => o === "rejected")).toHaveLength(3);
  });

  it("a simulated slower device holds each run (factor - 1) x its measured time", async () => {
    const timesAt = async (factor: number) => {
      const runs: number[] = [];
      const slot = newSlot({ onRun: (_b, ms) => runs.push(ms) });
      slot.swap(await ready(mnistMlp(), { meta: { simulatedSlowdown: factor } }));
      for (let i = 0; i < 15; i++) await slot.infer(sampleInput(784, i));
      await slot.unload().released;
      return runs.sort((a, b) => a - b)[7];
    };
    const real = await timesAt(1);
    const slowed = await timesAt(40);
    expect(slowed).toBeGreaterThan(10 * real);
  });

  it("counts consecutive run failures, reports each, and a success resets the count", async () => {
    const failures: RunFailure[] = [];
    const outcomes: string[] = [];
    const slot = newSlot({ onRequest: (_ms, o) => outcomes.push(o) }, (f) => failures.push(f));
    const next = await ready(gatherTrapModel());
    slot.swap(next);
    const bad = new Float32Array([1, 2, 9, 0]);
    for (let i = 0; i < 3; i++) {
      const err = await slot.infer(bad).catch((e) => e);
      expect(err).toBeInstanceOf(InferenceFailedError);
      expect(err.message).toMatch(/^inference failed: .*out of data bounds/);
      expect(err.message).not.toContain("\n");
    }
    expect(failures.map((f) => f.consecutive)).toEqual([1, 2, 3]);
    expect(failures[0].meta).toEqual(next.meta);
    expect(slot.consecutiveFailures).toBe(3);
    const ok = await slot.infer(new Float32Array([0, 1, 2, -1]));
    expect([...ok.outputs[0].data]).toEqual([10, 20, 30, 30]);
    expect(slot.consecutiveFailures).toBe(0);
    expect(outcomes).toEqual(["error", "error", "error", "ok"]);
  });

  it("one request the model fails on does not fail the others stacked with it", async () => {
    const slot = newSlot();
    slot.swap(await ready(gatherTrapModel()));
    const inputs = [
      [0, 1, 2, 0],
      [1, 1, 1, 1],
      [7, 0, 0, 0],
      [2, 2, 2, 2],
    ].map((v) => new Float32Array(v));
    const settled = await Promise.allSettled(inputs.map((x) => slot.infer(x)));
    expect(settled.map((s) => s.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    const first = settled[0] as PromiseFulfilledResult<InferResult>;
    expect([...first.value.outputs[0].data]).toEqual([10, 20, 30, 10]);
  });

  it("refuses a swap it cannot serve with, naming the field, and keeps serving", async () => {
    const slot = newSlot();
    const serving = await ready(small);
    slot.swap(serving);
    const other = await ready(small);
    const cases: [ServingModel, string][] = [
      [{ ...other, meta: { ...other.meta, simulatedSlowdown: 0.5 } }, "meta.simulatedSlowdown"],
      [{ ...other, options: { ...other.options, queueLimit: 0 } }, "options.queueLimit"],
      [{ ...serving, meta: meta() }, "model"],
    ];
    for (const [next, field] of cases) {
      let caught: unknown;
      try {
        slot.swap(next);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidServingModelError);
      expect((caught as InvalidServingModelError).field).toBe(field);
      expect(slot.current()).toEqual(serving.meta);
    }
    await other.model.release();
  });

  it("swaps under a stream of requests: none lost, the old model released after its last", async () => {
    const swaps: [number | undefined, number | undefined][] = [];
    const slot = newSlot({
      onSwap: (cur, prev) => swaps.push([cur?.generation, prev?.generation]),
    });
    const a = mlpModel([8, 16, 4], 11);
    const b = mlpModel([8, 16, 4], 12);
    const first = await ready(a, { meta: { simulatedSlowdown: 30 } });
    const old = tracked(first.model);
    slot.swap({ ...first, model: old.model });
    const second = await ready(b);
    const inputs = Array.from({ length: 8 }, (_, i) => sampleInput(8, 100 + i));
    const refs = {
      [first.meta.generation]: await Promise.all(inputs.map((x) => direct(a, x, [1, 8]))),
      [second.meta.generation]: await Promise.all(inputs.map((x) => direct(b, x, [1, 8]))),
    };
    const answered: { gen: number; at: number; client: number; result: InferResult }[] = [];
    let errors = 0;
    let stop = false;
    let swappedAt = 0;
    const client = async (c: number) => {
      while (!stop) {
        try {
          const result = await slot.infer(inputs[c]);
          answered.push({ gen: result.model.generation, at: performance.now(), client: c, result });
        } catch {
          errors++;
        }
      }
    };
    const clients = inputs.map((_, c) => client(c));
    await new Promise((r) => setTimeout(r, 150));
    const swapped = slot.swap(second);
    swappedAt = performance.now();
    expect(swapped.previous).toEqual(first.meta);
    expect(old.log.releasedAt).toBe(0);
    await swapped.released;
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(clients);

    expect(errors).toBe(0);
    expect(old.log.runAfterRelease).toBe(false);
    const oldAnswers = answered.filter((x) => x.gen === first.meta.generation);
    const newAnswers = answered.filter((x) => x.gen === second.meta.generation);
    expect(oldAnswers.length).toBeGreaterThan(0);
    expect(newAnswers.length).toBeGreaterThan(0);
    // Requests admitted before the swap finished on the old model after it...
    expect(oldAnswers.some((x) => x.at > swappedAt)).toBe(true);
    // ...and the old model was released only after the last of them.
    expect(old.log.releasedAt).toBeGreaterThanOrEqual(Math.max(...oldAnswers.map((x) => x.at)));
    for (const x of answered) {
      const ref = refs[x.gen][x.client].logits.data as Float32Array;
      expect([...x.result.outputs[0].data]).toEqual([...ref]);
    }
    expect(swaps).toEqual([
      [first.meta.generation, undefined],
      [second.meta.generation, first.meta.generation],
    ]);
  });

  it("unload lets admitted requests finish, then refuses new ones", async () => {
    const slot = newSlot();
    const next = await ready(small, { meta: { simulatedSlowdown: 500 } });
    const t = tracked(next.model);
    slot.swap({ ...next, model: t.model });
    const inflight = slot.infer(sampleInput(8));
    const { previous, released } = slot.unload();
    expect(previous).toEqual(next.meta);
    expect(slot.current()).toBeNull();
    await expect(slot.infer(sampleInput(8))).rejects.toBeInstanceOf(NoModelError);
    await expect(inflight).resolves.toMatchObject({ model: next.meta });
    await released;
    expect(t.log.releasedAt).toBeGreaterThan(0);
  });
});

describe("prepareModel", () => {
  const manifest = (input: ArtifactManifest["input"]): ArtifactManifest => ({
    schema: 1,
    digest: "b".repeat(64),
    sizeBytes: 1000,
    mediaType: "application/onnx",
    model: { id: "00000000-0000-4000-8000-000000000001", name: "m", version: "1" },
    variant: {
      id: "00000000-0000-4000-8000-000000000002",
      name: "int8-static",
      technique: "int8",
      recipe: [],
    },
    input,
    runtime: { kernels: [], kernelType: "int8", opset: 17, memoryBytes: 0, disableQuantQdq: false },
    quality: { metric: "accuracy", value: 0.9 },
    issuedAt: new Date(0).toISOString(),
    keyId: "k",
  });

  /** The real ORT runtime, recording what was released. */
  function recordingRuntime() {
    const released: LoadedModel[] = [];
    const rt: InferenceRuntime = {
      async load(onnx, opts) {
        const m = await runtime.load(onnx, opts);
        const release = m.release.bind(m);
        m.release = async () => {
          released.push(m);
          await release();
        };
        return m;
      },
    };
    return { rt, released };
  }

  it("loads, checks and warms a variant into something the slot can swap in", async () => {
    const steps: string[] = [];
    const prepared = await prepareModel(runtime, small, {
      manifest: manifest({ name: "input", sampleDims: [8] }),
      generation: 7,
      options: { ...baseOptions, threads: 0 },
      defaultThreads: 1,
      simulatedSlowdown: 2.5,
      onStep: (s) => steps.push(s),
    });
    expect(steps).toEqual(["load", "warmUp"]);
    expect(prepared.meta).toEqual({
      variantId: "00000000-0000-4000-8000-000000000002",
      variantName: "int8-static",
      generation: 7,
      digest: "b".repeat(64),
      kernelType: "int8",
      simulatedSlowdown: 2.5,
    });
    expect(prepared.options.threads).toBe(1);
    await prepared.model.release();
  });

  it("refuses a variant that fails warm-up, releases it, and the slot keeps serving", async () => {
    const slot = newSlot();
    const serving = await ready(small);
    slot.swap(serving);
    const { rt, released } = recordingRuntime();
    const err = await prepareModel(rt, reshapeTrapModel(), {
      manifest: manifest({ name: "x", sampleDims: [4] }),
      generation: 8,
      options: baseOptions,
      defaultThreads: 1,
    }).catch((e) => e);
    expect(err.message).toMatch(/reshape/i);
    expect(released).toHaveLength(1);
    expect(slot.current()).toEqual(serving.meta);
  });

  it("refuses a model whose input is not what the manifest says, and releases it", async () => {
    const { rt, released } = recordingRuntime();
    const err = await prepareModel(rt, small, {
      manifest: manifest({ name: "input", sampleDims: [784] }),
      generation: 9,
      options: baseOptions,
      defaultThreads: 1,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(ManifestMismatchError);
    expect(err.message).toMatch(/input \[8\] per sample; the manifest says input \[784\]/);
    expect(released).toHaveLength(1);
  });
});
