// Scale run of the simulator against a real control plane as its own process (tsx src/main.ts,
// measured from /proc), nats-server in operator mode (its own process, measured from /proc and
// its /varz) and Postgres: for each size, bulk-register and connect N devices in simulator
// process(es) of their own, then read CPU and RSS of each process in three states:
//   idle      connected, heartbeats only (no telemetry)
//   telemetry heartbeats + telemetry every 5 s, nothing assigned (empty windows)
//   serving   after a rollout through the REST API (one wave, 100 %) until every device applied:
//             simulated requests at --request-rate, telemetry every 5 s
// While every device serves it also reads the TELEMETRY stream (offered msgs/s), the control
// plane's /metrics (folded msgs/s, the fold's batch sizes) and its consumer (lag), and times a
// fixed number of REST requests (devices list, a filtered list, a device page) at concurrency 4.
// `--max-batches 500,50,2000`: the first value is the control plane's TELEMETRY_MAX_BATCH for
// the whole run; each further one restarts the control plane with it on the same serving fleet
// and measures the serving window again (a knob side by side, same devices, same minute).
// Usage: tsx bench/scale.ts [--sizes 1000,3000,10000] [--processes 2] [--hold 15]
// Heavy: run it alone (flock /tmp/ef-heavy.lock). Prints one JSON line per size.
import { parseArgs } from "node:util";
import { silentLogger, startTestControlPlane } from "@edgefleet/control-plane/testing";
import {
  type ControlPlaneProcess,
  startControlPlaneProcess,
} from "@edgefleet/control-plane/testing-process";
import { STREAMS } from "@edgefleet/protocol";
import { jetstreamManager } from "@nats-io/jetstream";
import { loadFleetFile } from "../src/fleet-file";
import { importTwoVariants, tempDir } from "../src/test-support";
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
    sizes: { type: "string", default: "1000,3000,10000" },
    /** TELEMETRY_MAX_BATCH of the control plane; more values: re-measured serving, see above. */
    "max-batches": { type: "string", default: "500" },
    processes: { type: "string", default: "1" },
    hold: { type: "string", default: "15" },
    "request-rate": { type: "string", default: "2" },
    "connect-concurrency": { type: "string", default: "64" },
    "heartbeat-ms": { type: "string", default: "5000" },
    "telemetry-interval": { type: "string", default: "5" },
    /** Requests per REST endpoint in the latency probe (concurrency 4). */
    "api-requests": { type: "string", default: "100" },
    /** V8 flags for the simulator processes, e.g. "--max-semi-space-size=1". */
    "sim-node-flags": { type: "string", default: "" },
  },
});
const HOLD_S = Number(args.hold);
/** CPU (100 = one core) and RSS of each process over `seconds`; nats-server's /varz rates. */
async function sample(stack: Stack, pids: Record<string, number>, seconds: number, sims: Sim[]) {
  const t0 = performance.now();
  const v0 = await varz(stack);
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, procCpuTicks(p)]));
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
  const v1 = await varz(stack);
  out.natsVarz = {
    inMsgsPerS: round((v1.in_msgs - v0.in_msgs) / dt),
    outMsgsPerS: round((v1.out_msgs - v0.out_msgs) / dt),
    inMiBPerS: round((v1.in_bytes - v0.in_bytes) / 2 ** 20 / dt),
    connections: v1.connections,
    slowConsumers: v1.slow_consumers,
    cpuPercent: v1.cpu,
    memMiB: round(v1.mem / 2 ** 20),
  };
  return out;
}

interface Varz {
  in_msgs: number;
  out_msgs: number;
  in_bytes: number;
  connections: number;
  slow_consumers: number;
  cpu: number;
  mem: number;
}
async function varz(stack: Stack): Promise<Varz> {
  return (await (await fetch(`http://127.0.0.1:${stack.nats.httpPort}/varz`)).json()) as Varz;
}

/** Messages the control plane folded so far (its /metrics, batch size histogram's sum). */
async function foldedSoFar(stack: Stack): Promise<number> {
  const text = await (await fetch(`${stack.cp.httpUrl}/metrics`)).text();
  return Number(/^edgefleet_telemetry_batch_messages_sum (\S+)$/m.exec(text)?.[1] ?? 0);
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
  const nc = await stack.controlPlaneBus("test-control-plane");
  try {
    const jsm = await jetstreamManager(nc);
    const st = await jsm.streams.info(STREAMS.telemetry.name);
    const ci = await jsm.consumers.info(STREAMS.telemetry.name, TELEMETRY_CONSUMER);
    return {
      at: performance.now(),
      folded: await foldedSoFar(stack),
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
    foldedMsgsPerS: round((b.folded - a.folded) / s),
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

/**
 * The control plane under test as its own process, on the ports the fixture's in-process one had
 * (stopped first), so `stack.api` and `stack.importModel` reach it unchanged.
 */
async function startCp(stack: Stack, maxBatch: number): Promise<ControlPlaneProcess> {
  const url = (u: string) => Number(new URL(u.includes("://") ? u : `http://${u}`).port);
  return startControlPlaneProcess(
    {
      ...stack.config,
      httpPort: url(stack.cp.httpUrl),
      grpcPort: url(stack.cp.grpcAddress),
      telemetryBatch: { maxBatch },
    },
    { logLevel: "info" }, // its ready line is an info line
  );
}

/** The serving window: CPU/RSS, telemetry offered and folded. */
async function serving(stack: Stack, pids: Record<string, number>, sims: Sim[]) {
  const t0 = await telemetryState(stack);
  const procs = await sample(stack, pids, HOLD_S, sims);
  const t1 = await telemetryState(stack);
  return { procs, telemetry: telemetryRates(t0, t1), t1 };
}

const [maxBatch, ...moreMaxBatches] = args["max-batches"]!.split(",").map(Number);
for (const n of args.sizes!.split(",").map(Number)) {
  const processes = Number(args.processes);
  const stack = await startTestControlPlane({
    heartbeatIntervalMs: Number(args["heartbeat-ms"]),
    heartbeatTimeoutMs: 3 * Number(args["heartbeat-ms"]),
    logger: silentLogger,
    telemetryBatch: {},
  });
  await stack.cp.stop();
  let cp = await startCp(stack, maxBatch);
  const dir = await tempDir();
  const result: Record<string, unknown> = { devices: n, processes, maxBatch };
  const started: Sim[] = []; // killed in `finally` if a failure left them running
  try {
    // 1. register + connect, telemetry off: idle
    const a = await runSims(n, processes, dir.path, stack, 0);
    started.push(...a.sims);
    result.register = {
      wallMs: a.wallMs,
      registerMs: a.stats.map((s) => s.timings.registerMs),
      connectMs: a.stats.map((s) => s.timings.connectMs),
      simCpuS: a.cpuS,
    };
    const pidsOf = (sims: Sim[]) => ({
      ...Object.fromEntries(sims.map((s, i) => [`sim${i}`, s.child.pid!])),
      nats: stack.nats.pid,
      "control-plane": cp.process.pid,
    });
    result.idle = await sample(stack, pidsOf(a.sims), HOLD_S, a.sims);
    result.stopMs = await stopSims(a.sims);

    // 2. the same fleet again (no registration), telemetry every 5 s
    const b = await runSims(n, processes, dir.path, stack, Number(args["telemetry-interval"]));
    started.push(...b.sims);
    result.reconnect = {
      wallMs: b.wallMs,
      connectMs: b.stats.map((s) => s.timings.connectMs),
      simCpuS: b.cpuS,
    };
    result.telemetry = await sample(stack, pidsOf(b.sims), HOLD_S, b.sims);

    // 3. a rollout through the REST API: one wave, 100 %, until all applied
    result.rollout = await rollout(stack, n);
    await new Promise((r) => setTimeout(r, 6_000)); // windows with requests have closed
    // 4. every device serves: requests and full windows; telemetry rates and REST latency
    const w = await serving(stack, pidsOf(b.sims), b.sims);
    result.serving = w.procs;
    result.telemetryIngest = w.telemetry;
    const ids = (await loadFleetFile(b.sims[0].fleetFile))!.devices.map((d) => d.id);
    result.apiMs = await apiLatency(
      stack,
      ids[Math.floor(ids.length / 2)],
      Number(args["api-requests"]),
    );
    result.telemetryAfterApi = telemetryRates(w.t1, await telemetryState(stack));
    // 5. the same serving fleet under a control plane with another fold batch size
    const knob: Record<string, unknown>[] = [];
    for (const other of moreMaxBatches) {
      await cp.kill("SIGTERM");
      cp = await startCp(stack, other);
      await new Promise((r) => setTimeout(r, 10_000)); // the backlog of the restart folded
      const k = await serving(stack, pidsOf(b.sims), b.sims);
      knob.push({ maxBatch: other, serving: k.procs, telemetryIngest: k.telemetry });
    }
    if (knob.length) result.maxBatchRuns = knob;
    const last = await Promise.all(b.sims.map(simStats));
    result.counters = last.map((s) => s?.counters);
    result.online = (await stack.api("/api/v1/devices?status=online&limit=1")).body.total;
    result.stopMs2 = await stopSims(b.sims);
  } catch (err) {
    // the control plane's own account of what failed: its error lines (pino level >= 50)
    const errors = cp.process
      .output()
      .split("\n")
      .filter((l) => /"level":(5|6)\d/.test(l));
    console.error(errors.slice(-20).join("\n"));
    throw err;
  } finally {
    console.log(JSON.stringify(result));
    for (const s of started) if (s.child.exitCode === null) s.child.kill("SIGKILL");
    await cp.kill("SIGTERM");
    await stack.stop();
    await dir.remove();
  }
}
process.exit(0);
