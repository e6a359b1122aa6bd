// Rollouts through real agents (simulated rpi4s: real ONNX Runtime, each its own identity and
// NATS connection), a real control plane and its controllers: variants that must not spread,
// each tripping the gate meant for it, halted and rolled back with the reason in words, while
// the test sends each device live requests on its local API:
// - a wrong variant whose catalogue claims more accuracy than it has: the canary gate (the
//   accuracy budget the signed manifest promised);
// - the same wrong variant without a canary set: shadow agreement with the previous variant;
// - a slow variant whose catalogue understates its cost: the latency gate.
import { encodeCanarySet } from "@edgefleet/artifact";
import {
  createMlp,
  exportOnnx,
  loadMnistSplit,
  MNIST_PIXELS,
  type Split,
  trainClassifier,
} from "@edgefleet/compression";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningAgent } from "./agent";
import { top1 } from "./serving";
import { rotateClasses } from "./serving/test-models";
import { startTestStack, type TestStack, until } from "./test-stack";

let stack: TestStack;
const agents: RunningAgent[] = [];
let good: string;
let canaryDigest: string;

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
const goodModel = exportOnnx(trained);
const wrongModel = exportOnnx(rotateClasses(trained, 1));
// Untrained and wide: ~0.5 ms a sample on this host, so ~6 ms on a simulated rpi4.
const slowModel = exportOnnx(createMlp([784, 2048, 2048, 10], 2));
const canary = take(mnist.test, 0, 100);

async function accuracy(model: Uint8Array, split: Split): Promise<number> {
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({
    input: new ort.Tensor("float32", Float32Array.from(split.x), [split.n, 784]),
  });
  await session.release();
  const classes = top1(out[session.outputNames[0]].data as Float32Array, split.n);
  return classes.filter((c, i) => c === split.y[i]).length / split.n;
}

/** Live requests on every agent's local API until stopped: test digits outside the canary set. */
function traffic() {
  let stop = false;
  const loops = agents.map(async (a, k) => {
    for (let i = 0; !stop; i++) {
      const x = take(mnist.test, 200 + ((i * 7 + k) % 500), 1).x;
      await fetch(`${a.localUrl}/v1/infer`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body: Buffer.from(x.buffer, x.byteOffset, x.byteLength),
      })
        .then((r) => r.arrayBuffer())
        .catch(() => {});
    }
  });
  return async () => {
    stop = true;
    await Promise.all(loops);
  };
}

/** Every agent serving `variantId` (by its local API). */
const allServing = (variantId: string) =>
  until(
    `all agents serving ${variantId}`,
    async () => {
      const models = await Promise.all(
        agents.map(
          async (a) =>
            (await (await fetch(`${a.localUrl}/v1/model`)).json()) as { variantId?: string },
        ),
      );
      return models.every((m) => m.variantId === variantId) ? true : undefined;
    },
    30_000,
  );

async function rolloutOf(
  name: string,
  bad: { bytes: Uint8Array; claims: number },
  body: Record<string, unknown>,
) {
  const m = await stack.importModel({
    name,
    variants: [
      { name: "good", bytes: goodModel, accuracy: await accuracy(goodModel, canary) },
      { name: "candidate", bytes: bad.bytes, accuracy: bad.claims },
    ],
  });
  const res = await stack.api("/api/v1/rollouts", {
    method: "POST",
    body: JSON.stringify({ modelId: m.modelId, ...body }),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const id = String(res.body.id);
  await stack.api(`/api/v1/rollouts/${id}/start`, { method: "POST", body: "{}" });
  return { id, candidate: m.variantIds.get("candidate")! };
}

const halted = (id: string) =>
  until(
    "the rollout halted",
    async () => {
      const r = await stack.api(`/api/v1/rollouts/${id}`);
      return r.body.state === "halted" ? r.body : undefined;
    },
    60_000,
  );

beforeAll(async () => {
  stack = await startTestStack();
  for (const { agent } of await stack.startProfiledAgents(2, "pi", {
    labels: { fleet: "e2e" },
    localApi: { host: "127.0.0.1", httpPort: 0 },
    telemetryIntervalMs: 500,
  })) {
    agents.push(agent);
  }
  // What every device runs before the rollouts: the good model.
  const base = await stack.importModel({
    name: "base",
    variants: [{ name: "good", bytes: goodModel, accuracy: await accuracy(goodModel, canary) }],
  });
  good = base.variantIds.get("good")!;
  for (const a of agents) {
    await stack.api(`/api/v1/devices/${a.deviceId}/assignment`, {
      method: "PUT",
      body: JSON.stringify({ variantId: good }),
    });
  }
  await allServing(good);
  canaryDigest = await stack.upload(
    encodeCanarySet({ sampleDims: [784], inputs: canary.x, labels: Int32Array.from(canary.y) }),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await stack?.stop();
});

const strategy = (gates: Record<string, unknown>) => ({
  waves: [1, "100%"],
  bakeSeconds: 20,
  gates: { latency: { minRequests: 30 }, errors: { minRequests: 30 }, ...gates },
});

describe("gates that stop a bad variant", () => {
  it("the canary gate: a variant far below the accuracy its manifest promises", async () => {
    const stop = traffic();
    try {
      const { id, candidate } = await rolloutOf(
        "claims-too-much",
        { bytes: wrongModel, claims: 0.95 },
        {
          selector: { labels: { fleet: "e2e" } },
          policy: { latencySloMs: 1000 },
          strategy: strategy({}),
          canaryDigest,
        },
      );
      const r = await halted(id);
      expect(r.haltReason).toMatch(
        /^wave 1 halted: canary accuracy \d+(\.\d)?% vs 95% promised by compression \(drop [\d.]+ pt > 2 pt budget; 100 samples on 1 devices\)$/,
      );
      // The halt is stored first, then the wave's devices are written back.
      const targets = await until(
        "the wave rolled back",
        async () => {
          const items = (await stack.api(`/api/v1/rollouts/${id}/targets?wave=1`)).body.items as {
            variantId: string;
            state: string;
          }[];
          return items.every((t) => t.state !== "applied" && t.state !== "assigned")
            ? items
            : undefined;
        },
        10_000,
      );
      expect(targets).toMatchObject([{ variantId: candidate, state: "rolled-back" }]);
      await allServing(good);
    } finally {
      await stop();
    }
  }, 120_000);

  it("the agreement gate: the same variant, judged by shadow comparisons on live requests", async () => {
    const stop = traffic();
    try {
      const { id } = await rolloutOf(
        "disagrees",
        { bytes: wrongModel, claims: 0.95 },
        {
          selector: { labels: { fleet: "e2e" } },
          policy: { latencySloMs: 1000 },
          strategy: strategy({ agreement: { enabled: true, sampleRate: 1, minCompared: 20 } }),
        },
      );
      const r = await halted(id);
      expect(r.haltReason).toMatch(
        /^wave 1 halted: agreement with the previous variant 0% < 90% \(\d+ comparisons on 1 devices\)$/,
      );
      await allServing(good);
    } finally {
      await stop();
    }
  }, 120_000);

  it("the latency gate: a variant much slower than its catalogue says", async () => {
    const stop = traffic();
    try {
      const { id } = await rolloutOf(
        "too-slow",
        { bytes: slowModel, claims: 0.99 },
        {
          selector: { labels: { fleet: "e2e" } },
          policy: { latencySloMs: 2 },
          strategy: strategy({}),
        },
      );
      const r = await halted(id);
      expect(r.haltReason).toMatch(
        /^wave 1 halted: p95 \d+ ms > SLO 2 ms on rpi4, 1 of 1 devices$/,
      );
      await allServing(good);
    } finally {
      await stop();
    }
  }, 120_000);
});
