// Rollout notification rate: a rollout of one model to N simulated devices (one wave, 100 %),
// from `start` to every device's desired state written (KV + Postgres, one generation each) and
// to every device having acknowledged it (its `applied` report stored and followed by the
// controller). The control plane runs in this process with its controllers; the simulator
// (bulk-registered devices, each its own NATS connection and identity, mixed classes) runs in a
// process of its own; nats-server and Postgres are the machine's.
//
// Side by side in the same run, on the same devices: the same desired state written one device
// at a time through the REST API (`PUT /devices/:id/assignment`, 16 requests in flight), the
// path a script without rollouts would take.
//
//   npm run bench:rollout-rate -w @edgefleet/fleet-sim -- --devices 10000
// Heavy: run it alone (no tests beside it).

import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";
import { silentLogger, startTestControlPlane } from "@edgefleet/control-plane/testing";
import { loadFleetFile } from "../src/fleet-file";
import { importTwoVariants, tempDir } from "../src/test-support";
import { createRollout, oneWaveRollout, runRollout, waitUntilPlanned } from "./rollout-run";
import { procCpuTicks, simStats, startSim, stopSims, TICK, waitFor } from "./sim-process";

/** Busy CPU ticks of the whole machine (all cores; idle and iowait left out). */
function machineBusyTicks(): number {
  const [line] = readFileSync("/proc/stat", "utf8").split("\n");
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
}

const { values: args } = parseArgs({
  options: {
    devices: { type: "string", default: "10000" },
    "rest-devices": { type: "string", default: "2000" },
    "apply-ms": { type: "string", default: "200" },
    "heartbeat-ms": { type: "string", default: "5000" },
    "tick-ms": { type: "string", default: "250" },
    /** Writes a V8 CPU profile of this process (the control plane) during the rollout. */
    profile: { type: "string" },
    /** V8 flags for the simulator process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"). */
    "sim-node-flags": { type: "string", default: "" },
  },
});
const N = Number(args.devices);
const REST_N = Math.min(N, Number(args["rest-devices"]));
const HEARTBEAT_MS = Number(args["heartbeat-ms"]);

const stack = await startTestControlPlane({
  heartbeatIntervalMs: HEARTBEAT_MS,
  heartbeatTimeoutMs: 3 * HEARTBEAT_MS,
  logger: silentLogger,
  telemetryBatch: {},
  controllers: { tickMs: Number(args["tick-ms"]) },
});
const dir = await tempDir();
const progress = (line: string) => process.stderr.write(`\r${line.padEnd(100)}`);
const sim = await startSim({
  devices: N,
  index: 0,
  dir: dir.path,
  stack,
  heartbeatMs: HEARTBEAT_MS,
  args: ["--telemetry-interval", "0", "--apply-ms", args["apply-ms"]!],
  nodeFlags: args["sim-node-flags"]!.split(" ").filter(Boolean),
});
try {
  await waitFor(
    "devices connected",
    async () => {
      const s = await simStats(sim);
      if (s) progress(`connecting: ${s.connected} of ${N}`);
      return s && s.connected === N ? s : undefined;
    },
    900_000,
    1_000,
  );
  const ids = (await loadFleetFile(sim.fleetFile))!.devices.map((d) => d.id);
  const model = await importTwoVariants(stack);
  const body = oneWaveRollout(model.modelId);
  // Every device profiled (its first run publishes one) before the plan is made.
  await waitUntilPlanned(stack.api, body, N, (planned) =>
    progress(`profiles: ${planned} of ${N} devices planned`),
  );

  // The fleet at rest (heartbeats only): what the machine spends before anything moves.
  const rest0 = { machine: machineBusyTicks(), cp: process.cpuUsage(), at: performance.now() };
  await new Promise((r) => setTimeout(r, 5_000));
  const restS = (performance.now() - rest0.at) / 1000;
  const restMachine = (machineBusyTicks() - rest0.machine) / TICK / restS;
  const restCpUsage = process.cpuUsage(rest0.cp);
  const restCp = (restCpUsage.user + restCpUsage.system) / 1e6 / restS;

  // 1. The rollout.
  const id = await createRollout(stack.api, body);
  const inspector = args.profile ? new Session() : undefined;
  if (inspector) {
    inspector.connect();
    await inspector.post("Profiler.enable");
    await inspector.post("Profiler.start");
  }
  const cpu0 = process.cpuUsage();
  const sim0 = procCpuTicks(sim.child.pid!);
  const nats0 = procCpuTicks(stack.nats.pid);
  const machine0 = machineBusyTicks();
  const times = await runRollout(stack.api, id, N, {
    pollMs: 100,
    async onPoll({ written, applied, elapsedMs }) {
      const onDevices = (await simStats(sim))?.phases.applied ?? 0;
      progress(
        `rollout: ${written} written, ${applied} applied of ${N} (${onDevices} applied on the devices) ${(elapsedMs / 1000).toFixed(1)} s`,
      );
    },
  });
  if (inspector) {
    const { profile } = await inspector.post("Profiler.stop");
    await writeFile(args.profile!, JSON.stringify(profile));
    inspector.disconnect();
  }
  const cpu = process.cpuUsage(cpu0);
  const simCpuS = (procCpuTicks(sim.child.pid!) - sim0) / TICK;
  const natsCpuS = (procCpuTicks(stack.nats.pid) - nats0) / TICK;
  const machineCpuS = (machineBusyTicks() - machine0) / TICK;
  const simApplied = (await simStats(sim))?.phases.applied ?? 0;

  // 2. The same devices, one REST call each (the first REST_N), back to the other variant.
  const other = model.variantIds.get("int8-static")!;
  const restStart = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < REST_N) {
        const deviceId = ids[next++];
        const res = await stack.api(`/api/v1/devices/${deviceId}/assignment`, {
          method: "PUT",
          body: JSON.stringify({ variantId: other }),
        });
        if (res.status !== 200) throw new Error(`assign: HTTP ${res.status}`);
        if (next % 200 === 0) progress(`REST: ${next} of ${REST_N} devices`);
      }
    }),
  );
  const restWritten = performance.now() - restStart;
  process.stderr.write("\n");

  const s = (ms: number) => (ms / 1000).toFixed(2);
  const rate = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString("en-US");
  console.log(
    `${N.toLocaleString("en-US")} simulated devices (one process, own NATS connections; mixed classes), ` +
      `apply takes ${args["apply-ms"]} ms on a device, controller tick ${args["tick-ms"]} ms, 2 cores shared by everything\n`,
  );
  console.log("| path | devices | written | acknowledged (applied) | devices/s (acknowledged) |");
  console.log("| --- | --- | --- | --- | --- |");
  console.log(
    `| rollout (one wave, batches of 500 per transaction) | ${N} | ${s(times.writtenMs)} s | ${s(times.appliedMs)} s | ${rate(N, times.appliedMs)} |`,
  );
  console.log(
    `| REST, one device per call, 16 in flight | ${REST_N} | ${s(restWritten)} s | - | ${rate(REST_N, restWritten)} (written only) |`,
  );
  console.log(
    `\nrollout completed ${s(times.completedMs)} s after start; final state ${times.state}; the simulator counted ${simApplied} applied. ` +
      `CPU during the rollout: control plane ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, simulator ${simCpuS.toFixed(1)} s, ` +
      `nats-server ${natsCpuS.toFixed(1)} s; the whole machine ${machineCpuS.toFixed(1)} s busy of ${((2 * times.completedMs) / 1000).toFixed(1)} s on 2 cores ` +
      "(the rest is mostly Postgres).",
  );
  console.log(
    `At rest (heartbeats every ${HEARTBEAT_MS} ms, nothing else) the machine was ${(restMachine * 100).toFixed(0)} % busy (100 % = one core), the control plane ${(restCp * 100).toFixed(0)} %.`,
  );
  console.log(
    `Greengrass's maximum rollout rate, 1,000 devices a minute, is ${(1000 / 60).toFixed(1)} devices/s.`,
  );
} finally {
  await stopSims([sim]);
  await stack.stop();
  await dir.remove();
}
process.exit(0);
