// Scale run of the simulator against a real control plane (in this process), nats-server in
// operator mode (its own process) and Postgres: for each size, bulk-register and connect N
// devices in simulator process(es) of their own, then read their CPU and RSS from /proc in
// three states:
//   idle      connected, heartbeats only (no telemetry)
//   telemetry heartbeats + telemetry every 5 s, nothing assigned (empty windows)
//   serving   every device serves a variant (desired state written straight to KV), simulated
//             requests at --request-rate, telemetry every 5 s
//   rollout   then a rollout through the REST API (one wave, 100 %) until every device applied
// While every device serves (after the rollout) it also reads the TELEMETRY stream and the control
// plane's consumer (msgs/s and bytes/s offered, msgs/s folded = ack floor, pending) and times a
// fixed number of REST requests (devices list, a filtered list, a device page) at concurrency 4.
// Usage: tsx bench/scale.ts --sizes 1000,3000,10000 [--processes 2] [--hold 30]
// Heavy: run it alone (no tests beside it). Prints one JSON line per size.
import { parseArgs } from "node:util";
import { silentLogger, startTestControlPlane } from "@edgefleet/control-plane/testing";
import { STREAMS } from "@edgefleet/protocol";
import { jetstreamManager } from "@nats-io/jetstream";
import { loadFleetFile } from "../src/fleet-file";
import { controlPlaneNats, importTwoVariants, tempDir } from "../src/test-support";
import { createRollout, oneWaveRollout, runRollout, waitUntilPlanned } from "./rollout-run";
import {
  procCpuTicks,
  procRss,
  type Sim,
  simStats,
  startSim,
  stopSims,
  TICK,
  waitFor,
} from "./sim-process";

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,5000,10000" },
    processes: { type: "string", default: "1" },
    hold: { type: "string", default: "30" },
    "request-rate": { type: "string", default: "2" },
    "connect-concurrency": { type: "string", default: "64" },
    "heartbeat-ms": { type: "string", default: "5000" },
    "telemetry-interval": { type: "string", default: "5" },
    /** Requests per REST endpoint in the latency probe (concurrency 4). */
    "api-requests": { type: "string", default: "200" },
    /** V8 flags for the simulator processes, e.g. "--max-semi-space-size=1". */
    "sim-node-flags": { type: "string", default: "" },
  },
});
const HOLD_S = Number(args.hold);
/** CPU (100 = one core) and RSS of each process over `seconds`. */
async function sample(pids: Record<string, number>, seconds: number, sims: Sim[] = []) {
  const t0 = performance.now();
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, procCpuTicks(p)]));
  const self0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const dt = (performance.now() - t0) / 1000;
  const out: Record<string, Record<string, number>> = {};
  for (const [k, p] of Object.entries(pids)) {
    out[k] = {
      cpuPercent: round(((procCpuTicks(p) - c0[k]) / TICK / dt) * 100),
      rssMiB: round(procRss(p) / 2 ** 20),
    };
  }
  for (const [i, sim] of sims.entries()) {
    const p = (await simStats(sim))?.process;
    if (p)
      Object.assign(out[`sim${i}`], {
        heapUsedMiB: round(p.heapUsedBytes / 2 ** 20),
        heapTotalMiB: round(p.heapTotalBytes / 2 ** 20),
      });
  }
  {
    const u = process.cpuUsage(self0);
    out["control-plane"] = {
      cpuPercent: round(((u.user + u.system) / 1e6 / dt) * 100),
      rssMiB: round(process.memoryUsage.rss() / 2 ** 20),
    };
  }
  return out;
}
const round = (x: number) => Math.round(x * 10) / 10;

/** The control plane's durable on TELEMETRY (control-plane src/nats/telemetry-consumer.ts). */
const TELEMETRY_CONSUMER = "control-plane-telemetry";
type Stack = Awaited<ReturnType<typeof startTestControlPlane>>;
const pct = (xs: number[], p: number) =>
  round(xs.toSorted((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]);

/** p50/p95/p99 (ms) of `count` GETs of each path, `concurrency` in flight. */
async function apiLatency(stack: Stack, deviceId: string, count: number, concurrency = 4) {
  const paths: Record<string, string> = {
    list: "/api/v1/devices?limit=50",
    listFiltered: "/api/v1/devices?status=online&deviceClass=rpi4&limit=50",
    device: `/api/v1/devices/${deviceId}`,
    assignment: `/api/v1/devices/${deviceId}/assignment`,
    telemetry: `/api/v1/devices/${deviceId}/telemetry`,
  };
  const out: Record<string, Record<string, number>> = {};
  for (const [name, path] of Object.entries(paths)) {
    const ms: number[] = [];
    let next = 0;
    let bad = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < count) {
          const t = performance.now();
          const r = await stack.api(path);
          ms.push(performance.now() - t);
          if (r.status !== 200) bad++;
        }
      }),
    );
    out[name] = { p50: pct(ms, 50), p95: pct(ms, 95), p99: pct(ms, 99), non200: bad };
  }
  return out;
}

/** The TELEMETRY stream and the control plane's consumer at one moment. */
async function telemetryState(stack: Stack) {
  const nc = await controlPlaneNats(stack);
  try {
    const jsm = await jetstreamManager(nc);
    const st = await jsm.streams.info(STREAMS.telemetry.name);
    const ci = await jsm.consumers.info(STREAMS.telemetry.name, TELEMETRY_CONSUMER);
    return {
      at: performance.now(),
      lastSeq: st.state.last_seq,
      bytes: st.state.bytes,
      messages: st.state.messages,
      ackFloor: ci.ack_floor.stream_seq,
      pending: ci.num_pending,
      ackPending: ci.num_ack_pending,
    };
  } finally {
    await nc.close();
  }
}

/** Offered and folded telemetry over the window between two readings. */
function telemetryRates(a: Awaited<ReturnType<typeof telemetryState>>, b: typeof a) {
  const s = (b.at - a.at) / 1000;
  return {
    offeredMsgsPerS: round((b.lastSeq - a.lastSeq) / s),
    foldedMsgsPerS: round((b.ackFloor - a.ackFloor) / s),
    // bytes held in the stream grow by what is offered unless the limits trim it
    streamBytesPerS: round((b.bytes - a.bytes) / s),
    pendingEnd: b.pending,
    ackPendingEnd: b.ackPending,
    lagEnd: b.lastSeq - b.ackFloor,
  };
}

/** A rollout through the REST API, one wave 100 %, until every device applied. */
async function rollout(stack: Stack, n: number) {
  const model = await importTwoVariants(stack);
  const body = oneWaveRollout(model.modelId);
  await waitUntilPlanned(stack.api, body, n);
  const times = await runRollout(stack.api, await createRollout(stack.api, body), n);
  return { ...times, devicesPerS: round(n / (times.appliedMs / 1000)) };
}

async function runSims(
  n: number,
  processes: number,
  dir: string,
  stack: Awaited<ReturnType<typeof startTestControlPlane>>,
  telemetryS: number,
) {
  const t0 = performance.now();
  const per = Math.ceil(n / processes);
  const sims = await Promise.all(
    Array.from({ length: processes }, (_, i) =>
      startSim({
        devices: Math.min(per, n - i * per),
        index: i,
        dir,
        stack,
        heartbeatMs: Number(args["heartbeat-ms"]),
        nodeFlags: args["sim-node-flags"]!.split(" ").filter(Boolean),
        args: [
          ...["--telemetry-interval", String(telemetryS), "--request-rate", args["request-rate"]!],
          ...["--apply-ms", "1000", "--connect-concurrency", args["connect-concurrency"]!],
        ],
      }),
    ),
  );
  const all = await Promise.all(
    sims.map((s) =>
      waitFor(
        "connected",
        async () => {
          const st = await simStats(s);
          return st && st.connected === s.devices ? st : undefined;
        },
        600_000,
      ),
    ),
  );
  // CPU seconds each simulator spent to get here: process start (tsx), registration, connects.
  const cpuS = sims.map((s) => round(procCpuTicks(s.child.pid!) / TICK));
  return { sims, wallMs: Math.round(performance.now() - t0), stats: all, cpuS };
}

for (const n of args.sizes!.split(",").map(Number)) {
  const processes = Number(args.processes);
  const stack = await startTestControlPlane({
    heartbeatIntervalMs: Number(args["heartbeat-ms"]),
    heartbeatTimeoutMs: 3 * Number(args["heartbeat-ms"]),
    logger: silentLogger,
    telemetryBatch: {},
  });
  const dir = await tempDir();
  const result: Record<string, unknown> = { devices: n, processes };
  try {
    // 1. register + connect, telemetry off: idle
    const a = await runSims(n, processes, dir.path, stack, 0);
    result.register = {
      wallMs: a.wallMs,
      registerMs: a.stats.map((s) => s.timings.registerMs),
      connectMs: a.stats.map((s) => s.timings.connectMs),
      simCpuS: a.cpuS,
    };
    const pids = () => ({
      ...Object.fromEntries(a.sims.map((s, i) => [`sim${i}`, s.child.pid!])),
      nats: stack.nats.pid,
    });
    result.idle = await sample(pids(), HOLD_S, a.sims);
    result.stopMs = await stopSims(a.sims);

    // 2. the same fleet again (no registration), telemetry every 5 s
    const b = await runSims(n, processes, dir.path, stack, Number(args["telemetry-interval"]));
    result.reconnect = {
      wallMs: b.wallMs,
      connectMs: b.stats.map((s) => s.timings.connectMs),
      simCpuS: b.cpuS,
    };
    const pidsB = {
      ...Object.fromEntries(b.sims.map((s, i) => [`sim${i}`, s.child.pid!])),
      nats: stack.nats.pid,
    };
    result.telemetry = await sample(pidsB, HOLD_S, b.sims);

    // 3. a rollout through the REST API: one wave, 100 %, until all applied
    result.rollout = await rollout(stack, n);
    await new Promise((r) => setTimeout(r, 6_000)); // windows with requests have closed
    // 4. every device serves: requests and full windows; telemetry rates and REST latency
    const t0 = await telemetryState(stack);
    result.serving = await sample(pidsB, HOLD_S, b.sims);
    const t1 = await telemetryState(stack);
    result.telemetryIngest = telemetryRates(t0, t1);
    const ids = (await loadFleetFile(b.sims[0].fleetFile))!.devices.map((d) => d.id);
    result.apiMs = await apiLatency(
      stack,
      ids[Math.floor(ids.length / 2)],
      Number(args["api-requests"]),
    );
    result.telemetryAfterApi = telemetryRates(t1, await telemetryState(stack));
    const last = await Promise.all(b.sims.map(simStats));
    result.counters = last.map((s) => s?.counters);
    result.online = (await stack.api("/api/v1/devices?status=online&limit=1")).body.total;
    result.stopMs2 = await stopSims(b.sims);
  } finally {
    console.log(JSON.stringify(result));
    await stack.stop();
    await dir.remove();
  }
}
process.exit(0);
