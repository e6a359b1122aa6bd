// Scale run of the simulator against a real control plane (in this process), nats-server in
// operator mode (its own process) and Postgres: for each size, bulk-register and connect N
// devices in simulator process(es) of their own, then read their CPU and RSS from /proc in
// three states:
//   idle      connected, heartbeats only (no telemetry)
//   telemetry heartbeats + telemetry every 5 s, nothing assigned (empty windows)
//   serving   every device serves a variant (desired state written straight to KV), simulated
//             requests at --request-rate, telemetry every 5 s
// Usage: tsx bench/scale.ts --sizes 1000,5000,10000 [--processes 2] [--hold 30]
// Heavy: run it alone (no tests beside it). Prints one JSON line per size.
import { parseArgs } from "node:util";
import { directGetLast, kvStreamName } from "@edgefleet/bus";
import { silentLogger, startTestControlPlane } from "@edgefleet/control-plane/testing";
import {
  DESIRED_NOTICE_OP,
  type DesiredState,
  decodeJson,
  desiredStateSchema,
  encodeJson,
  KV_BUCKETS,
  kvSubject,
  subjects,
} from "@edgefleet/protocol";
import { jetstream } from "@nats-io/jetstream";
import { loadFleetFile } from "../src/fleet-file";
import { assign, controlPlaneNats, importTwoVariants, tempDir } from "../src/test-support";
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

async function serveAll(stack: Awaited<ReturnType<typeof startTestControlPlane>>, sims: Sim[]) {
  const nc = await controlPlaneNats(stack);
  const js = jetstream(nc);
  const ids = (await Promise.all(sims.map((s) => loadFleetFile(s.fleetFile)))).flatMap((f) =>
    f!.devices.map((d) => d.id),
  );
  const { variantIds } = await importTwoVariants(stack);
  const g = await assign(stack, ids[0], variantIds.get("fp32")!);
  const template = decodeJson(
    desiredStateSchema,
    (await directGetLast(
      nc,
      kvStreamName(KV_BUCKETS.desired),
      kvSubject(KV_BUCKETS.desired, ids[0]),
    ))!.data,
  );
  const t0 = performance.now();
  for (let i = 1; i < ids.length; i += 500) {
    await Promise.all(
      ids.slice(i, i + 500).map((deviceId) => {
        const d: DesiredState = { ...template, deviceId, generation: g };
        return js.publish(`$KV.${KV_BUCKETS.desired}.${deviceId}`, encodeJson(d));
      }),
    );
  }
  for (const id of ids)
    nc.publish(subjects.rpc(id, DESIRED_NOTICE_OP), encodeJson({ generation: g }));
  await nc.flush();
  await Promise.all(
    sims.map((s) =>
      waitFor(
        "applied",
        async () => {
          const st = await simStats(s);
          return st && (st.phases.applied ?? 0) === s.devices ? st : undefined;
        },
        300_000,
      ),
    ),
  );
  await nc.close();
  return Math.round(performance.now() - t0);
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
    const b = await runSims(n, processes, dir.path, stack, 5);
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

    // 3. every device serves a variant: requests and full windows
    result.assignAllMs = await serveAll(stack, b.sims);
    await new Promise((r) => setTimeout(r, 6_000)); // windows with requests have closed
    result.serving = await sample(pidsB, HOLD_S, b.sims);
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
