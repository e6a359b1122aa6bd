// Pipeline-split inference, measured side by side in one run: an MLP too big for the two small
// devices, served (a) by the only device that holds it alone, (b) split by the cost model,
// (c) split by memory-proportional placement (exo's default), (d) the cost model's latency
// objective, (e) the cost model allowed int8 stages. Real control plane, nats-server with device
// JWTs, Postgres and three in-process agents with ONNX Runtime; the simulated classes slow each
// run by sleeping (class factor - 1) x its measured time, holding the device's run slot.
//
//   npm run bench:pipeline -w @edgefleet/agent            (PIPELINE_BENCH_REQUESTS=160 by default)
import { availableParallelism } from "node:os";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import * as ort from "onnxruntime-node";
import { type RunningAgent, startAgent } from "../src/agent";
import { deviceRuntime } from "../src/device-runtime";
import { startTestStack, until } from "../src/test-stack";

const MiB = 2 ** 20;
const requests = Number(process.env.PIPELINE_BENCH_REQUESTS ?? 160);
const concurrency = 8;
const widths = [784, 2048, 2048, 2048, 10];

const stack = await startTestStack();
const agents: RunningAgent[] = [];
try {
  const token = await stack.newEnrollmentToken(3);
  const specs = [
    { name: "rpi4-1g", simulatedClass: "rpi4", cap: undefined },
    { name: "x86gw-96m-a", simulatedClass: "x86-gateway", cap: 96 * MiB },
    { name: "x86gw-96m-b", simulatedClass: "x86-gateway", cap: 96 * MiB },
  ];
  for (const s of specs) {
    const runtime = deviceRuntime({
      threads: 1,
      simulatedClass: s.simulatedClass,
      microbench: { rounds: 3, runsPerRound: 3, dramBytes: 32 * MiB },
      memoryCapBytes: s.cap,
    });
    const agent = await startAgent(
      stack.agentConfig(await stack.newDataDir(), token, { name: s.name, runtime }),
    );
    agents.push(agent);
  }
  for (const a of agents) {
    await until(
      "online with a profile",
      async () => {
        const d = await stack.api(`/api/v1/devices/${a.deviceId}`);
        const p = await stack.api(`/api/v1/devices/${a.deviceId}/profile`);
        return d.body.status === "online" && p.status === 200 ? true : undefined;
      },
      120_000,
      200,
    );
  }
  const bytes = exportOnnx(createMlp(widths, 11));
  const { variantIds } = await stack.importModel({
    name: "mlp-2048x3",
    variants: [{ name: "fp32", bytes }],
  });
  const variantId = variantIds.get("fp32") as string;
  const x = Float32Array.from({ length: 784 }, (_, i) => ((i * 7) % 31) / 31);
  const reference = await wholeModel(bytes, x);

  const [rpi, small1, small2] = agents.map((a) => a.deviceId);
  const configs = [
    {
      label: "single device (rpi4-1g, the only one that holds it)",
      body: { deviceIds: [rpi], precisions: ["fp32"] },
    },
    {
      label: "cost model, throughput, fp32",
      body: { deviceIds: [rpi, small1, small2], precisions: ["fp32"] },
    },
    {
      label: "memory-proportional (exo's default), fp32",
      body: {
        deviceIds: [rpi, small1, small2],
        precisions: ["fp32"],
        strategy: "memory-proportional",
      },
    },
    {
      label: "cost model, latency objective, fp32",
      body: { deviceIds: [rpi, small1, small2], precisions: ["fp32"], objective: "latency" },
    },
    { label: "cost model, throughput, fp32 or int8", body: { deviceIds: [rpi, small1, small2] } },
  ];
  const names = new Map(agents.map((a, i) => [a.deviceId, specs[i].name]));
  const rows: string[] = [];
  const notes: string[] = [];
  for (const c of configs) {
    const res = await stack.api("/api/v1/pipelines", {
      method: "POST",
      body: JSON.stringify({ variantId, ...c.body }),
    });
    if (res.status !== 201) throw new Error(`${c.label}: ${JSON.stringify(res.body)}`);
    const id = res.body.id as string;
    const stages = res.body.stages as { deviceId: string; precision: string; segments: number[] }[];
    const predicted = res.body.predicted as { bottleneckMs: number; latencyMs: number };
    const m = await measure(id, x, reference);
    const layout = stages
      .map(
        (s) =>
          `${names.get(s.deviceId)}[L${s.segments[0] + 1}${s.segments[1] > s.segments[0] ? `-L${s.segments[1] + 1}` : ""} ${s.precision}]`,
      )
      .join(" -> ");
    rows.push(
      `| ${c.label} | ${layout} | ${fmt(m.p50)} | ${fmt(m.p90)} | ${m.rps.toFixed(1)} | ${fmt(predicted.latencyMs)} / ${fmt(predicted.bottleneckMs)} | ${m.maxAbsDiff.toExponential(1)} |`,
    );
    notes.push(`${c.label}:\n  ${(res.body.reasons as string[]).join("\n  ")}`);
  }
  const direct = await directOrt(bytes, x);
  rows.push(
    `| reference: ONNX Runtime called directly on the host (no simulated class, no network, 1 thread) | whole model | ${fmt(direct.p50)} | ${fmt(direct.p90)} | ${direct.rps.toFixed(1)} | - | 0 |`,
  );
  console.log(
    `\nMLP ${widths.join("-")} (${(bytes.byteLength / 1e6).toFixed(1)} MB fp32), ${requests} requests at concurrency ${concurrency} for throughput, 40 sequential for latency; host: ${availableParallelism()} cores\n`,
  );
  console.log(
    "| placement | stages | p50 ms | p90 ms | req/s | predicted latency / bottleneck ms | max abs diff vs whole model |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  console.log(`\n${notes.join("\n\n")}`);
} finally {
  await Promise.all(agents.map((a) => a.stop().catch(() => {})));
  await stack.stop();
}

function fmt(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}

async function wholeModel(bytes: Uint8Array, x: Float32Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({ input: new ort.Tensor("float32", x, [1, 784]) });
  await s.release();
  return out[s.outputNames[0]].data as Float32Array;
}

async function directOrt(bytes: Uint8Array, x: Float32Array) {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const feeds = { input: new ort.Tensor("float32", x, [1, 784]) };
  for (let i = 0; i < 5; i++) await s.run(feeds);
  const lat: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    lat.push(performance.now() - t0);
  }
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) await s.run(feeds);
  const rps = requests / ((performance.now() - t0) / 1000);
  await s.release();
  lat.sort((a, b) => a - b);
  return { p50: lat[20], p90: lat[36], rps };
}

async function measure(id: string, x: Float32Array, reference: Float32Array) {
  const body = JSON.stringify({ input: Array.from(x) });
  let maxAbsDiff = 0;
  const one = async () => {
    const t0 = performance.now();
    const res = await stack.api(`/api/v1/pipelines/${id}/infer`, { method: "POST", body });
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`infer: ${JSON.stringify(res.body)}`);
    const out = res.body.output as number[];
    for (let i = 0; i < out.length; i++)
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(out[i] - reference[i]));
    return ms;
  };
  for (let i = 0; i < 5; i++) await one();
  const lat: number[] = [];
  for (let i = 0; i < 40; i++) lat.push(await one());
  lat.sort((a, b) => a - b);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < requests) await one();
    }),
  );
  const rps = requests / ((performance.now() - t0) / 1000);
  return { p50: lat[20], p90: lat[36], rps, maxAbsDiff };
}
