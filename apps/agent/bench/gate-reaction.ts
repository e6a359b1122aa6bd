// Gate reaction: the time from a bad variant's first telemetry to its wave halted, and to the
// device serving its previous variant again. Real agents (simulated rpi4, real ONNX Runtime,
// their local APIs under steady requests) and a real control plane with its controllers. The bad
// variant is slow (its catalogue understates its cost), so the latency gate trips. Repeated
// `RUNS` times; each run is a fresh rollout of a fresh catalogue.
//   npx tsx bench/gate-reaction.ts            (from apps/agent; TELEMETRY_MS=5000 TICK_MS=1000 RUNS=5)

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, formatCreds, loadOrCreateFleetAuth } from "@edgefleet/bus";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import { silentLogger, startTestControlPlane } from "@edgefleet/control-plane/testing";
import { decodeJson, type FleetEvent, telemetrySchema } from "@edgefleet/protocol";
import WebSocket from "ws";
import { type RunningAgent, startAgent } from "../src/agent";
import { deviceRuntime } from "../src/device-runtime";

const TELEMETRY_MS = Number(process.env.TELEMETRY_MS ?? 5000);
const TICK_MS = Number(process.env.TICK_MS ?? 1000);
const RUNS = Number(process.env.RUNS ?? 5);
const SLO_MS = Number(process.env.SLO_MS ?? 40);

const stack = await startTestControlPlane({ controllers: { tickMs: TICK_MS } });
const good = exportOnnx(createMlp([784, 64, 10], 1));
const slow = exportOnnx(createMlp([784, 4096, 4096, 10], 2));
const runtime = deviceRuntime({
  threads: 1,
  simulatedClass: "rpi4",
  microbench: { rounds: 2, runsPerRound: 2, dramBytes: 16 * 2 ** 20 },
});
const dirs: string[] = [];
const agents: RunningAgent[] = [];
for (let i = 0; i < 2; i++) {
  const dir = await mkdtemp(join(tmpdir(), "ef-gate-"));
  dirs.push(dir);
  const token = await stack.api("/api/v1/enrollment-tokens", { method: "POST", body: "{}" });
  const a = await startAgent({
    dataDir: dir,
    controlPlaneGrpc: stack.cp.grpcAddress,
    enrollmentToken: String(token.body.token),
    name: `pi-${i}`,
    labels: { fleet: "bench" },
    agentVersion: "bench",
    runtime,
    logger: silentLogger,
    localApi: { host: "127.0.0.1", httpPort: 0 },
    telemetryIntervalMs: TELEMETRY_MS,
  });
  await a.connected;
  await a.profiled();
  agents.push(a);
}

// Steady requests on every device, as its applications would send.
let stopped = false;
const digit = Buffer.from(new Float32Array(784).fill(0.3).buffer);
const loops = agents.map(async (a) => {
  while (!stopped) {
    await fetch(`${a.localUrl}/v1/infer`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: digit,
    })
      .then((r) => r.arrayBuffer())
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 5));
  }
});

// Arrival of telemetry (control-plane credentials, core subscription: no consumer) and events.
const auth = await loadOrCreateFleetAuth(stack.stateDir);
const watcher = await connectBus({
  servers: stack.nats.url,
  name: "bench",
  creds: formatCreds(auth.controlPlane.jwt, auth.controlPlane.seed),
});
const firstTelemetry = new Map<string, number>();
watcher.subscribe("ef.v1.dev.*.telemetry", {
  callback: (_e, m) => {
    try {
      const t = decodeJson(telemetrySchema, m.data);
      if (t.variantId && t.requests > 0 && !firstTelemetry.has(t.variantId))
        firstTelemetry.set(t.variantId, performance.now());
    } catch {
      // not telemetry this bench reads
    }
  },
});
const ws = new WebSocket(`${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`, {
  headers: { authorization: `Bearer ${stack.adminToken}` },
});
await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
const events: { at: number; e: FleetEvent }[] = [];
ws.on("message", (d) => events.push({ at: performance.now(), e: JSON.parse(String(d)) }));

const base = await stack.importModel({
  name: "base",
  variants: [{ name: "good", bytes: good, accuracy: 0.9 }],
});
const goodId = base.variantIds.get("good")!;
const rows: number[][] = [];
for (let run = 0; run < RUNS; run++) {
  for (const a of agents) {
    await stack.api(`/api/v1/devices/${a.deviceId}/assignment`, {
      method: "PUT",
      body: JSON.stringify({ variantId: goodId }),
    });
  }
  await waitFor(() => agents.every((a) => a.reconciler.serving?.manifest.variant.id === goodId));
  const m = await stack.importModel({
    name: `slow-${run}`,
    // The catalogue says it costs what the good one costs (1 MFLOP); it costs 40 MFLOP.
    variants: [{ name: "slow", bytes: slow, accuracy: 0.99 }],
  });
  const bad = m.variantIds.get("slow")!;
  const res = await stack.api("/api/v1/rollouts", {
    method: "POST",
    body: JSON.stringify({
      modelId: m.modelId,
      selector: { labels: { fleet: "bench" } },
      policy: { latencySloMs: SLO_MS },
      strategy: { waves: [1, "100%"], bakeSeconds: 600, gates: { latency: { minRequests: 20 } } },
    }),
  });
  const id = String(res.body.id);
  await stack.api(`/api/v1/rollouts/${id}/start`, { method: "POST", body: "{}" });
  const halted = await waitFor(() =>
    events.find(
      (x) =>
        x.e.type === "rollout.updated" &&
        x.e.rolloutId === id &&
        (x.e.data as { state?: string }).state === "halted",
    ),
  );
  const back = await waitFor(() =>
    events.find(
      (x) =>
        x.e.type === "device.state" &&
        x.at >= halted.at &&
        (x.e.data as { reported?: { phase: string; serving?: { variantId: string } } }).reported
          ?.serving?.variantId === goodId &&
        (x.e.data as { reported?: { phase: string } }).reported?.phase === "applied",
    ),
  );
  const applied = events.find(
    (x) =>
      x.e.type === "device.state" &&
      (x.e.data as { reported?: { phase: string; serving?: { variantId: string } } }).reported
        ?.serving?.variantId === bad,
  );
  const first = firstTelemetry.get(bad);
  if (!applied || first === undefined) throw new Error("the bad variant never served");
  const reason = (halted.e.data as { haltReason?: string }).haltReason;
  rows.push([first - applied.at, halted.at - first, back.at - first, back.at - applied.at]);
  console.error(
    `run ${run + 1}: ${reason}; halted ${(halted.at - first).toFixed(0)} ms and serving the previous variant ${(back.at - first).toFixed(0)} ms after its first telemetry`,
  );
}

stopped = true;
await Promise.all(loops);
ws.close();
await watcher.close();
await Promise.all(agents.map((a) => a.stop()));
await stack.stop();
await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));

const stat = (i: number) => {
  const v = rows.map((r) => r[i]).sort((a, b) => a - b);
  return `${v[Math.floor(v.length / 2)].toFixed(0)} / ${v[0].toFixed(0)} / ${v.at(-1)!.toFixed(0)}`;
};
console.log(`telemetry every ${TELEMETRY_MS} ms, controller tick ${TICK_MS} ms, ${RUNS} runs\n`);
console.log("| interval | median / min / max ms |");
console.log("| --- | --- |");
console.log(`| bad variant applied -> its first telemetry | ${stat(0)} |`);
console.log(`| first telemetry -> wave halted (gate tripped) | ${stat(1)} |`);
console.log(`| first telemetry -> device serving its previous variant again | ${stat(2)} |`);
console.log(`| bad variant applied -> serving its previous variant again | ${stat(3)} |`);

async function waitFor<T>(probe: () => T | undefined | false, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
