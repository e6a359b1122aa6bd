// Re-targeting benchmark (issue 8): on a simulated fleet where some devices slow down (a
// co-tenant load), how many end within their SLO with the closed-loop re-targeting controller
// acting, and how many without it.
//
// One run, two arms side by side. The fleet is two halves, each its own simulator process with
// the same class mix dealt in the same order (`--label arm=on` / `arm=off`), each given its own
// rollout of the same model with the same policy. The control plane (in this process) runs the
// real controllers; its re-targeting controller is told to leave the rollout named
// "retarget-off" alone (option `include`, the only change the benchmark needs), so the two arms
// see the same load at the same time on the same control plane, database and NATS.
//
// 1. Rollout of a three-variant catalogue (fp32 / pruned-50 / distilled-student, FLOPs matched to
//    the simulator's latency model) with a latency SLO every device meets at load 1 (the planner
//    puts fp32 everywhere).
// 2. Load: the same seeded `--fraction` of each half (same positions, so the same classes) gets
//    co-tenant load `--factor`, 5 s before a minute starts (minute M0).
// 3. Just before the next minute, each device is judged on the p95 of its field latency over
//    minute M0 for the variant it then serves: the stored telemetry rollups (per device, variant
//    and minute, bucketed by window start) merged as the controller and the latency gate merge
//    them, not the simulator's own numbers (a moved device is judged on its samples since the
//    move; a stricter row counts every sample of the minute, before the move too). Moves (REST
//    `/devices/:id/retargets`) are counted per device: more than one in a phase is flapping.
//    The simulator draws a window's requests when it closes, from what serves then: the few
//    seconds of a window before a switch count as the new variant (at most one 5 s window).
// 4. The load goes 5 s before minute M1 starts; minute M1 is judged the same way.
//
// Time is real, so the controller's periods are scaled down from its defaults (30 s tick, 2 min
// window, 60 s / 10 min cool-downs): `--every-ms`, `--window-ms`, `--down-cooldown-ms`,
// `--up-cooldown-ms`. Its margins (down 5 %, headroom 10 %, up 30 %, 30 samples) are the defaults.
//
//   npm run bench:retarget -w @edgefleet/fleet-sim -- [--devices 500] [--fraction 0.3] [--factor 3]
// Takes ~3-4 minutes (two minute-aligned phases); run it alone (no tests beside it).

import { parseArgs } from "node:util";
import { silentLogger, startTestControlPlane } from "@edgefleet/control-plane/testing";
import { createPrisma, createRepos } from "@edgefleet/db";
import { fromStoredRollup, LatencySketch } from "@edgefleet/telemetry";
import { DEFAULT_CLASS_MIX, type DeviceView } from "../src/fleet";
import { importThreeVariants, tempDir } from "../src/test-support";
import {
  type Sim,
  simDevices,
  simSetLoad,
  simStats,
  startSim,
  stopSims,
  waitFor,
} from "./sim-process";

const { values: args } = parseArgs({
  options: {
    devices: { type: "string", default: "500" },
    fraction: { type: "string", default: "0.3" },
    factor: { type: "string", default: "3" },
    seed: { type: "string", default: "7" },
    "slo-ms": { type: "string", default: "8" },
    "class-mix": { type: "string", default: DEFAULT_CLASS_MIX },
    "request-rate": { type: "string", default: "4" },
    "apply-ms": { type: "string", default: "200" },
    "heartbeat-ms": { type: "string", default: "5000" },
    "every-ms": { type: "string", default: "5000" },
    "window-ms": { type: "string", default: "30000" },
    "down-cooldown-ms": { type: "string", default: "10000" },
    "up-cooldown-ms": { type: "string", default: "30000" },
  },
});
const N = Number(args.devices);
const HALF = Math.floor(N / 2);
const FRACTION = Number(args.fraction);
const FACTOR = Number(args.factor);
const SEED = Number(args.seed);
const SLO = Number(args["slo-ms"]);
const HEARTBEAT_MS = Number(args["heartbeat-ms"]);
const MINUTE = 60_000;
/** Load changes this long before a minute starts, so every telemetry window of it (a window is
 * bucketed by its start, 5 s long) holds only samples under the new load. */
const LEAD_MS = 5_000;

type ArmKey = "on" | "off";
const ARMS: ArmKey[] = ["on", "off"];
const rolloutName = (arm: ArmKey) => `retarget-${arm}`;

const stack = await startTestControlPlane({
  heartbeatIntervalMs: HEARTBEAT_MS,
  heartbeatTimeoutMs: 3 * HEARTBEAT_MS,
  logger: silentLogger,
  telemetryBatch: {},
  controllers: {
    tickMs: 250,
    retarget: {
      everyMs: Number(args["every-ms"]),
      windowMs: Number(args["window-ms"]),
      hysteresis: {
        downCooldownMs: Number(args["down-cooldown-ms"]),
        upCooldownMs: Number(args["up-cooldown-ms"]),
      },
      include: (r) => r.name !== rolloutName("off"),
    },
  },
});
const prisma = createPrisma(stack.db.url);
const repos = createRepos(prisma);
const dir = await tempDir();
const progress = (line: string) => process.stderr.write(`\r${line.padEnd(110)}`);
const log = (line: string) => process.stderr.write(`\n${line}\n`);
const sleepUntil = async (at: number, what: (leftS: number) => string) => {
  while (Date.now() < at) {
    progress(what(Math.ceil((at - Date.now()) / 1000)));
    await new Promise((r) => setTimeout(r, Math.min(1_000, at - Date.now())));
  }
};

const sims = {} as Record<ArmKey, Sim>;
for (const [i, arm] of ARMS.entries()) {
  sims[arm] = await startSim({
    devices: HALF,
    index: i,
    dir: dir.path,
    stack,
    heartbeatMs: HEARTBEAT_MS,
    args: [
      ...["--label", `arm=${arm}`, "--class-mix", args["class-mix"]!],
      ...["--request-rate", args["request-rate"]!, "--apply-ms", args["apply-ms"]!],
    ],
  });
}

try {
  await waitFor(
    "devices connected",
    async () => {
      const s = await Promise.all(ARMS.map((a) => simStats(sims[a])));
      const connected = s.reduce((n, x) => n + (x?.connected ?? 0), 0);
      progress(`connecting: ${connected} of ${2 * HALF}`);
      return connected === 2 * HALF ? true : undefined;
    },
    600_000,
    1_000,
  );
  const model = await importThreeVariants(stack);
  const variantName = new Map([...model.variantIds].map(([name, id]) => [id, name]));
  const accuracy = new Map(
    (await repos.catalog.listVariants(model.modelId)).map((v) => [v.id, v.accuracy ?? Number.NaN]),
  );
  const body = (arm: ArmKey) => ({
    modelId: model.modelId,
    name: rolloutName(arm),
    selector: { labels: { arm } },
    policy: { latencySloMs: SLO },
    strategy: { waves: ["100%"], bakeSeconds: 10, maxPerSecond: 100_000 },
  });
  // Every device profiled (its first run publishes one) before the plans are made.
  for (const arm of ARMS) {
    await waitFor(
      "devices profiled",
      async () => {
        const dry = await stack.api("/api/v1/rollouts", {
          method: "POST",
          body: JSON.stringify({ ...body(arm), dryRun: true }),
        });
        const planned = (dry.body.waves as { devices: { variantName: string | null }[] }[])
          .flatMap((w) => w.devices)
          .filter((d) => d.variantName !== null).length;
        progress(`profiles (arm ${arm}): ${planned} of ${HALF} devices planned`);
        return planned === HALF ? planned : undefined;
      },
      300_000,
      2_000,
    );
  }

  // 1. The rollouts, one per arm, at the same time.
  const rolloutStart = Date.now();
  const rollouts = {} as Record<ArmKey, string>;
  for (const arm of ARMS) {
    const created = await stack.api("/api/v1/rollouts", {
      method: "POST",
      body: JSON.stringify(body(arm)),
    });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    rollouts[arm] = String(created.body.id);
  }
  for (const arm of ARMS)
    await stack.api(`/api/v1/rollouts/${rollouts[arm]}/start`, { method: "POST", body: "{}" });
  for (const arm of ARMS) {
    const done = await waitFor(
      "rollout completed",
      async () => {
        const r = await stack.api(`/api/v1/rollouts/${rollouts[arm]}`);
        const states = (r.body.waves as { states: Record<string, number> }[])[0].states;
        progress(`rollout ${arm}: ${r.body.state}, ${JSON.stringify(states)}`);
        return ["completed", "halted", "aborted"].includes(String(r.body.state))
          ? r.body
          : undefined;
      },
      300_000,
      500,
    );
    if (done.state !== "completed")
      throw new Error(`rollout ${arm}: ${done.state} (${done.haltReason})`);
  }
  const rolledOutAt = Date.now();
  const served = async (arm: ArmKey) => await simDevices(sims[arm]);
  const mix = (devs: DeviceView[]) => {
    const m: Record<string, number> = {};
    for (const d of devs) {
      const k = d.serving?.variantName ?? "none";
      m[k] = (m[k] ?? 0) + 1;
    }
    return m;
  };
  log(`rollouts completed in ${((rolledOutAt - rolloutStart) / 1000).toFixed(1)} s`);
  for (const arm of ARMS) log(`arm ${arm}: ${JSON.stringify(mix(await served(arm)))}`);

  // Minute M0: at least 30 s of load-1 telemetry (and the down cool-down) after the rollout.
  const m0 = Math.ceil((Date.now() + 30_000 + LEAD_MS) / MINUTE) * MINUTE;
  const m1 = m0 + MINUTE;
  const m2 = m1 + MINUTE;
  await sleepUntil(m0 - LEAD_MS - 1_500, (s) => `load-1 telemetry: the load comes in ${s} s`);
  const baseline = await judge(rolloutStart, m0 - LEAD_MS);

  // 2. The load, on the same positions of both halves.
  const loadAt = Date.now();
  const slowed = {} as Record<ArmKey, Set<string>>;
  for (const arm of ARMS)
    slowed[arm] = new Set(
      await simSetLoad(sims[arm], { factor: FACTOR, fraction: FRACTION, seed: SEED }),
    );
  const slowedByClass = {} as Record<ArmKey, Record<string, number>>;
  for (const arm of ARMS) {
    slowedByClass[arm] = {};
    for (const d of await served(arm))
      if (slowed[arm].has(d.id))
        slowedByClass[arm][d.deviceClass] = (slowedByClass[arm][d.deviceClass] ?? 0) + 1;
  }
  log(`load x${FACTOR} on ${JSON.stringify(slowedByClass)}`);
  const watch = async (phase: string, until: number) => {
    while (Date.now() < until) {
      const parts = [];
      for (const arm of ARMS) parts.push(`${arm} ${JSON.stringify(mix(await served(arm)))}`);
      progress(`${phase} (${Math.ceil((until - Date.now()) / 1000)} s left): ${parts.join(" ")}`);
      await new Promise((r) => setTimeout(r, Math.min(2_000, Math.max(0, until - Date.now()))));
    }
  };
  await watch("under load", m1 - LEAD_MS - 1_500);
  const loaded = await judge(m0, m0 + MINUTE);

  // 4. The load goes.
  const unloadAt = Date.now();
  for (const arm of ARMS) await simSetLoad(sims[arm], { factor: 1 });
  await watch("load gone", m2 + 8_000);
  const unloaded = await judge(m1, m1 + MINUTE);
  const moves = await allMoves();

  // The table.
  const fmtS = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const rows: [string, (arm: ArmKey) => string][] = [];
  const span = (p: { first?: number; last?: number }, t0: number) =>
    p.first === undefined ? "-" : `${fmtS(p.first - t0)} / ${fmtS(p.last! - t0)}`;
  const inSlo = (j: Judged, arm: ArmKey, only?: Set<string>, every = false) => {
    const list = j[arm].filter((d) => !only || only.has(d.id));
    const p95 = (d: JudgedDevice) => (every ? d.p95All : d.p95);
    const ok = list.filter((d) => p95(d) !== null && p95(d)! <= SLO).length;
    const none = list.filter((d) => p95(d) === null).length;
    return `${ok} of ${list.length} (${((100 * ok) / Math.max(1, list.length)).toFixed(0)} %)${none ? `, ${none} without data` : ""}`;
  };
  const p95Of = (j: Judged, arm: ArmKey, only?: Set<string>) => {
    const xs = j[arm]
      .filter((d) => (!only || only.has(d.id)) && d.p95 !== null)
      .map((d) => d.p95!)
      .sort((a, b) => a - b);
    if (!xs.length) return "-";
    const q = (p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))].toFixed(2);
    return `${q(0.5)} / ${xs.at(-1)!.toFixed(2)}`;
  };
  const variants = (j: Judged, arm: ArmKey) => {
    const m = new Map<string, number>();
    for (const d of j[arm]) m.set(d.variant, (m.get(d.variant) ?? 0) + 1);
    return [...model.variantIds.keys()]
      .filter((n) => m.has(n))
      .map((n) => `${n} ${m.get(n)}`)
      .join(", ");
  };
  const meanAccuracy = (j: Judged, arm: ArmKey) => {
    const xs = j[arm].map((d) => accuracy.get(d.variantId) ?? Number.NaN);
    return (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(4);
  };
  const inPhase = (arm: ArmKey, from: number, to: number) =>
    moves[arm].map((m) => ({ id: m.id, list: m.list.filter((x) => x.at >= from && x.at < to) }));
  const phaseStats = (arm: ArmKey, from: number, to: number) => {
    const per = inPhase(arm, from, to).filter((m) => m.list.length > 0);
    const count = per.reduce((n, m) => n + m.list.length, 0);
    const times = per.flatMap((m) => m.list.map((x) => x.at));
    const first = times.length ? Math.min(...times) : undefined;
    const last = times.length ? Math.max(...times) : undefined;
    const notSlowed = per.filter((m) => !slowed[arm].has(m.id)).length;
    const twice = per.filter((m) => m.list.length > 1).length;
    const bothWays = per.filter(
      (m) =>
        m.list.some((x) => x.action === "move-down") && m.list.some((x) => x.action === "move-up"),
    ).length;
    const actions: Record<string, number> = {};
    const paths: Record<string, number> = {};
    const cls = new Map(unloaded[arm].map((d) => [d.id, d.deviceClass]));
    const measured: number[] = [];
    for (const m of per)
      for (const x of m.list) {
        actions[x.action] = (actions[x.action] ?? 0) + 1;
        const path = `${cls.get(m.id)} to ${variantName.get(x.to)}`;
        paths[path] = (paths[path] ?? 0) + 1;
        measured.push(x.measuredMs);
      }
    measured.sort((a, b) => a - b);
    const decided = measured.length
      ? `${measured[0].toFixed(2)} / ${measured[measured.length >> 1].toFixed(2)} / ${measured.at(-1)!.toFixed(2)}`
      : "-";
    const byPath = Object.entries(paths)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    return {
      devices: per.length,
      count,
      first,
      last,
      notSlowed,
      twice,
      bothWays,
      actions,
      byPath,
      decided,
    };
  };
  const during = (arm: ArmKey) => phaseStats(arm, loadAt, unloadAt);
  const after = (arm: ArmKey) => phaseStats(arm, unloadAt, Date.now() + 1);
  const movedBack = (arm: ArmKey) => {
    const down = new Set(
      inPhase(arm, loadAt, unloadAt)
        .filter((m) => m.list.length)
        .map((m) => m.id),
    );
    const back = unloaded[arm].filter((d) => down.has(d.id) && d.variant === "fp32").length;
    return `${back} of ${down.size}`;
  };
  const all = (arm: ArmKey) => new Set(unloaded[arm].map((d) => d.id));
  const notSlowed = (arm: ArmKey) => new Set([...all(arm)].filter((id) => !slowed[arm].has(id)));
  rows.push(
    ["devices", () => String(HALF)],
    ["slowed devices (by class)", (a) => `${slowed[a].size}: ${JSON.stringify(slowedByClass[a])}`],
    ["**at load 1** (rollout done to load): within SLO", (a) => inSlo(baseline, a)],
    ["  p95 ms, median / worst device", (a) => p95Of(baseline, a)],
    [`**under load x${FACTOR}** (minute M0): within SLO`, (a) => inSlo(loaded, a)],
    ["  slowed devices within SLO", (a) => inSlo(loaded, a, slowed[a])],
    ["  others within SLO", (a) => inSlo(loaded, a, notSlowed(a))],
    [
      "  slowed within SLO, every sample of M0 (before a move too)",
      (a) => inSlo(loaded, a, slowed[a], true),
    ],
    ["  p95 ms of slowed devices, median / worst", (a) => p95Of(loaded, a, slowed[a])],
    ["  variants served at the end of M0", (a) => variants(loaded, a)],
    ["  mean catalogue accuracy of what is served", (a) => meanAccuracy(loaded, a)],
    [
      "  devices moved (moves: by action)",
      (a) => `${during(a).devices} (${during(a).count}: ${JSON.stringify(during(a).actions)})`,
    ],
    ["  moves by class and target", (a) => during(a).byPath || "-"],
    ["  measured p95 ms at the decision, min / median / max", (a) => during(a).decided],
    ["  of them not slowed", (a) => String(during(a).notSlowed)],
    [
      "  devices moved more than once / both ways (flapping)",
      (a) => `${during(a).twice} / ${during(a).bothWays}`,
    ],
    ["  load applied to first / last move", (a) => span(during(a), loadAt)],
    ["**load gone** (minute M1): within SLO", (a) => inSlo(unloaded, a)],
    ["  p95 ms, median / worst device", (a) => p95Of(unloaded, a)],
    ["  variants served at the end of M1", (a) => variants(unloaded, a)],
    ["  mean catalogue accuracy of what is served", (a) => meanAccuracy(unloaded, a)],
    [
      "  devices moved (moves: by action)",
      (a) => `${after(a).devices} (${after(a).count}: ${JSON.stringify(after(a).actions)})`,
    ],
    ["  moves by class and target", (a) => after(a).byPath || "-"],
    ["  moved under load and back on fp32", (a) => movedBack(a)],
    [
      "  devices moved more than once / both ways",
      (a) => `${after(a).twice} / ${after(a).bothWays}`,
    ],
    ["  load removed to first / last move", (a) => span(after(a), unloadAt)],
  );
  process.stderr.write("\n");
  console.log(
    `$ npm run bench:retarget -w @edgefleet/fleet-sim -- ${process.argv.slice(2).join(" ")}`,
  );
  console.log(
    `${2 * HALF} simulated devices in two halves (arms) of ${HALF}, each its own simulator process, class mix ${args["class-mix"]}; ` +
      `catalogue fp32 (0.98) / pruned-50 (0.97) / distilled-student (0.95); latency SLO ${SLO} ms (p95); ` +
      `co-tenant load x${FACTOR} on ${FRACTION * 100} % of each half (seed ${SEED}, same positions); ${args["request-rate"]} requests/s per device, telemetry every 5 s. ` +
      `Re-targeting controller: every ${args["every-ms"]} ms, window ${args["window-ms"]} ms, cool-downs down ${args["down-cooldown-ms"]} ms / up ${args["up-cooldown-ms"]} ms, default margins.\n` +
      "Within SLO: the device's p95 over one minute of its stored telemetry rollups, for the variant it serves at the end of that minute, <= SLO " +
      "(the controller's and the latency gate's measure; 'every sample' rows merge all variants of the minute).\n",
  );
  console.log("| | re-targeting on | re-targeting off (control) |");
  console.log("| --- | --- | --- |");
  for (const [name, f] of rows) console.log(`| ${name} | ${f("on")} | ${f("off")} |`);
  console.log(
    `\nPhases: rollouts started ${new Date(rolloutStart).toISOString()}, load ${new Date(loadAt).toISOString()} (M0 ${new Date(m0).toISOString()}), ` +
      `load removed ${new Date(unloadAt).toISOString()} (M1 ${new Date(m1).toISOString()}), judged after ${new Date(m2).toISOString()}.`,
  );

  interface JudgedDevice {
    id: string;
    deviceClass: string;
    variant: string;
    variantId: string;
    /** Over the rows of the variant it serves at the end. */
    p95: number | null;
    /** Over every row of the span, whatever variant. */
    p95All: number | null;
    samples: number;
  }
  type Judged = Record<ArmKey, JudgedDevice[]>;

  /** Each device's p95 over [from, to) of rollup minutes, for the variant it serves now. */
  async function judge(from: number, to: number): Promise<Judged> {
    const rows = await repos.telemetry.rollups({
      variantIds: [...model.variantIds.values()],
      from: new Date(Math.floor(from / MINUTE) * MINUTE),
      to: new Date(to),
      limit: 100_000,
    });
    const mine = new Map<string, typeof rows>();
    for (const row of rows) mine.set(row.deviceId, [...(mine.get(row.deviceId) ?? []), row]);
    const out = {} as Judged;
    for (const arm of ARMS) {
      out[arm] = (await served(arm)).map((d) => {
        const variantId = d.serving?.variantId ?? "";
        const sketch = new LatencySketch();
        const every = new LatencySketch();
        let samples = 0;
        let samplesAll = 0;
        for (const row of mine.get(d.id) ?? []) {
          const latency = fromStoredRollup(row).latency;
          if (!latency) continue;
          every.merge(latency);
          samplesAll += latency.count;
          if (row.variantId !== variantId) continue;
          sketch.merge(latency);
          samples += latency.count;
        }
        return {
          id: d.id,
          deviceClass: d.deviceClass,
          variant: variantName.get(variantId) ?? "none",
          variantId,
          p95: samples > 0 ? sketch.quantile(0.95) : null,
          p95All: samplesAll > 0 ? every.quantile(0.95) : null,
          samples,
        };
      });
    }
    return out;
  }

  async function allMoves() {
    const out = {} as Record<
      ArmKey,
      { id: string; list: { at: number; action: string; to: string; measuredMs: number }[] }[]
    >;
    for (const arm of ARMS) {
      const ids = (await served(arm)).map((d) => d.id);
      out[arm] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < ids.length) {
            const id = ids[next++];
            const r = await stack.api(`/api/v1/devices/${id}/retargets`);
            const items = r.body.items as {
              at: string;
              action: string;
              toVariantId: string;
              measuredMs: number;
            }[];
            out[arm].push({
              id,
              list: items
                .map((m) => ({
                  at: Date.parse(m.at),
                  action: m.action,
                  to: m.toVariantId,
                  measuredMs: m.measuredMs,
                }))
                .reverse(),
            });
          }
        }),
      );
    }
    return out;
  }
} finally {
  await stopSims(Object.values(sims));
  await prisma.$disconnect();
  await stack.stop();
  await dir.remove();
}
process.exit(0);
