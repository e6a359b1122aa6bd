// Sharded batch inference: the 10,000 MNIST digits as one job over 1, 2, 4 and 8 agents of mixed
// simulated classes, beside ONNX Runtime called directly on the same model in the same run; then
// the cost of losing one agent halfway (SIGKILL of its process while the job runs) against the
// same job with no loss. The agents are real agent processes (the bundled dist/agent.mjs, one
// ONNX Runtime thread each) on a real control plane (Postgres, operator-mode nats-server).
//   npm run build -w @edgefleet/agent && npx tsx bench/batch-jobs.ts [shardSize=200] [ackWaitS=3]
//   (from apps/agent)
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createMlp, exportOnnx, loadMnistSplit, trainClassifier } from "@edgefleet/compression";
import { mnistDataset, startTestControlPlane } from "@edgefleet/control-plane/testing";
import type { JobView } from "@edgefleet/protocol";
import { deviceClass } from "@edgefleet/runtime/facts";
import * as ort from "onnxruntime-node";
import pkg from "../package.json" with { type: "json" };

const SHARD = Number(process.argv[2] ?? 200);
const ACK_WAIT_S = Number(process.argv[3] ?? 3);
const CLASSES = [
  "x86-gateway",
  "rpi4",
  "jetson-nano",
  "x86-gateway",
  "rpi4",
  "jetson-nano",
  "x86-gateway",
  "rpi4",
];
const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "agent.mjs");

const stack = await startTestControlPlane({
  heartbeatIntervalMs: 1_000,
  heartbeatTimeoutMs: 10_000,
});
// Wide enough that a shard's model time (x the class's slowdown) outweighs its messaging;
// trained for one epoch on 3,000 training digits (the split's train part, not the job's order).
const net = createMlp([784, 1024, 1024, 10], 1);
const { train } = loadMnistSplit();
const subset = { x: train.x.subarray(0, 3000 * 784), y: train.y.subarray(0, 3000), n: 3000 };
trainClassifier(net, subset, { optimizer: "adam", lr: 0.001, epochs: 1, batchSize: 64, seed: 1 });
const model = exportOnnx(net);
const { variantIds } = await stack.importModel({
  name: "mnist-1024",
  variants: [{ name: "fp32", bytes: model }],
});
const variantId = variantIds.get("fp32")!;

// --- ONNX Runtime directly, same model, same inputs, same shard size, 1 thread and default.
async function ortDirect(threads?: number): Promise<{ perSecond: number; accuracy: number }> {
  const ds = mnistDataset();
  const session = await ort.InferenceSession.create(
    model,
    threads ? { intraOpNumThreads: threads } : {},
  );
  const run = async () => {
    let correct = 0;
    const t0 = performance.now();
    for (let s = 0; s < ds.samples; s += SHARD) {
      const n = Math.min(SHARD, ds.samples - s);
      const out = await session.run({
        input: new ort.Tensor("float32", ds.inputs.subarray(s * 784, (s + n) * 784), [n, 784]),
      });
      const logits = out[session.outputNames[0]].data as Float32Array;
      for (let i = 0; i < n; i++) {
        const row = logits.subarray(i * 10, i * 10 + 10);
        if (row.indexOf(Math.max(...row)) === ds.labels![s + i]) correct++;
      }
    }
    return {
      perSecond: ds.samples / ((performance.now() - t0) / 1000),
      accuracy: correct / ds.samples,
    };
  };
  await run();
  const best = [await run(), await run(), await run()].sort((a, b) => b.perSecond - a.perSecond)[0];
  await session.release();
  return best;
}

// --- Agent processes.
interface AgentProc {
  name: string;
  cls: string;
  child: ChildProcess;
  dir: string;
  deviceId?: string;
}
const token = String(
  (
    await stack.api("/api/v1/enrollment-tokens", {
      method: "POST",
      body: JSON.stringify({ maxUses: 20 }),
    })
  ).body.token,
);
async function startAgentProc(name: string, cls: string): Promise<AgentProc> {
  const dir = await mkdtemp(join(tmpdir(), "ef-jobs-bench-"));
  // A profile measured earlier: this benchmark is about jobs, not profiling.
  await writeFile(
    join(dir, "profile-stamp.json"),
    JSON.stringify({
      agentVersion: pkg.version,
      threads: 1,
      deviceClass: cls,
      measuredAt: new Date().toISOString(),
    }),
  );
  const child = spawn(process.execPath, ["--max-semi-space-size=1", MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      ENROLLMENT_TOKEN: token,
      CONTROL_PLANE_GRPC: stack.cp.grpcAddress,
      DATA_DIR: dir,
      DEVICE_NAME: name,
      LABELS: "bench=jobs",
      SIMULATED_CLASS: cls,
      INFERENCE_THREADS: "1",
      LOCAL_API_PORT: "0",
      LOCAL_GRPC_PORT: "",
      TELEMETRY_INTERVAL_MS: "60000",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return { name, cls, child, dir };
}

const agents: AgentProc[] = [];
for (let i = 0; i < CLASSES.length; i++)
  agents.push(await startAgentProc(`agent-${i + 1}`, CLASSES[i]));
// Device ids by name, once every agent is online.
for (const deadline = Date.now() + 60_000; ; ) {
  const page = (await stack.api("/api/v1/devices?limit=100")).body as {
    items?: { id: string; name: string; status: string }[];
  };
  const items = page.items ?? [];
  for (const a of agents)
    a.deviceId = items.find((d) => d.name === a.name && d.status === "online")?.id;
  if (agents.every((a) => a.deviceId)) break;
  if (Date.now() > deadline) throw new Error("agents did not come online");
  await new Promise((r) => setTimeout(r, 200));
}
console.error(`${agents.length} agents online: ${agents.map((a) => a.cls).join(", ")}`);

async function runJob(
  members: AgentProc[],
  name: string,
  onProgress?: (v: JobView) => void,
  prefetch = true,
) {
  const t0 = performance.now();
  const res = await stack.api("/api/v1/jobs", {
    method: "POST",
    body: JSON.stringify({
      name,
      variantId,
      dataset: "mnist",
      shardSize: SHARD,
      ackWaitMs: ACK_WAIT_S * 1000,
      prefetch,
      selector: { deviceIds: members.map((m) => m.deviceId) },
    }),
  });
  if (res.status !== 201) throw new Error(`create: ${JSON.stringify(res.body)}`);
  const id = (res.body as unknown as JobView).id;
  for (;;) {
    const v = (await stack.api(`/api/v1/jobs/${id}`)).body as unknown as JobView;
    onProgress?.(v);
    if (v.state === "completed") return { view: v, seconds: (performance.now() - t0) / 1000 };
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Each member's class, inputs done and own rate (model time, slowdown included). */
const perAgent = (v: JobView) =>
  v.perDevice
    .map(
      (d) =>
        `${agents.find((a) => a.deviceId === d.key)?.cls} ${d.samples} @ ${d.samplesPerSecond.toFixed(0)}/s`,
    )
    .join(", ");

const direct1 = await ortDirect(1);
const directAll = await ortDirect();
console.error("warm-up job (loads the variant on every agent)…");
await runJob(agents, "warm-up");

const rows: string[] = [];
let base = 0;
for (const n of [1, 2, 4, 8]) {
  const members = agents.slice(0, n);
  // Side by side: devices that ask for the next shard only after publishing the last one.
  const serial = await runJob(members, `serial-${n}`, undefined, false);
  const { view, seconds } = await runJob(members, `scale-${n}`);
  const perSecond = view.samples / seconds;
  if (n === 1) base = perSecond;
  // What the members could do side by side with nothing else in the way: the sum of their rates
  // in model time (the simulated class's slowdown included), as the job measured them.
  const ideal = view.perDevice.reduce((s, d) => s + d.samplesPerSecond, 0);
  const classes = members.map((m) => m.cls).join(", ");
  rows.push(
    `| ${n} | ${classes} | ${seconds.toFixed(2)} | ${perSecond.toFixed(0)} | ${(perSecond / base).toFixed(2)}x | ${ideal.toFixed(0)} | ${((perSecond / ideal) * 100).toFixed(0)} % | ${(view.accuracy! * 100).toFixed(2)} % | ${perAgent(view)} | ${serial.seconds.toFixed(2)} s, ${(view.samples / serial.seconds).toFixed(0)}/s |`,
  );
  console.error(rows[rows.length - 1]);
}

// --- Losing one agent halfway, 4 agents.
const four = agents.slice(0, 4);
const noLoss = await runJob(four, "no-loss");
const victim = four[1];
let killedAt: number | undefined;
const loss = await runJob(four, "loss", (v) => {
  if (killedAt === undefined && v.shards.done >= v.shards.total / 2) {
    killedAt = performance.now();
    victim.child.kill("SIGKILL");
  }
});

console.log(
  `ONNX Runtime direct, same model (MLP 784-1024-1024-10 fp32), batches of ${SHARD}: ${direct1.perSecond.toFixed(0)} inputs/s on 1 thread, ${directAll.perSecond.toFixed(0)} on all threads; accuracy ${(direct1.accuracy * 100).toFixed(2)} %`,
);
console.log(
  `slowdowns (fp32): ${[...new Set(CLASSES)].map((c) => `${c} ${deviceClass(c).computeSlowdown.fp32}x`).join(", ")}`,
);
console.log("");
console.log(
  "| agents | classes | seconds | inputs/s | vs 1 agent | sum of agents' own rates | efficiency | accuracy | per agent: inputs @ own rate | without prefetch |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
console.log("");
console.log(
  `4 agents, no loss: ${noLoss.seconds.toFixed(2)} s; one (${victim.cls}) SIGKILLed at half the shards: ${loss.seconds.toFixed(2)} s (+${(loss.seconds - noLoss.seconds).toFixed(2)} s; ack wait ${ACK_WAIT_S} s); shards ${JSON.stringify(loss.view.shards)}, duplicates ${loss.view.duplicates}, accuracy ${(loss.view.accuracy! * 100).toFixed(2)} % (no loss ${(noLoss.view.accuracy! * 100).toFixed(2)} %)`,
);
console.log(`per agent, no loss: ${perAgent(noLoss.view)}`);
console.log(`per agent, loss: ${perAgent(loss.view)}`);

for (const a of agents) a.child.kill("SIGTERM");
await new Promise((r) => setTimeout(r, 1000));
await stack.stop();
await Promise.all(agents.map((a) => rm(a.dir, { recursive: true, force: true })));
process.exit(0);
