// The simulator as a process of its own beside a control plane in the benchmark's process, so
// each side's CPU is its own: spawn one (bulk registration from the control plane's state dir and
// database), read its /stats, stop it; CPU and RSS of any process from /proc.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TestControlPlane } from "@edgefleet/control-plane/testing";
import { freePorts } from "@edgefleet/testkit";
import type { DeviceView, FleetStats } from "../src/fleet";

const MAIN = resolve(import.meta.dirname, "../src/main.ts");
/** USER_HZ: /proc/<pid>/stat counts clock ticks. */
export const TICK = 100;

export function procCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

export function procRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

export interface Sim {
  child: ChildProcess;
  url: string;
  fleetFile: string;
  devices: number;
}

export async function startSim(o: {
  devices: number;
  index: number;
  dir: string;
  stack: TestControlPlane;
  heartbeatMs: number;
  /** More simulator flags (`--telemetry-interval`, `--apply-ms`, `--class-mix`, ...). */
  args?: string[];
  nodeFlags?: string[];
}): Promise<Sim> {
  const [port] = await freePorts(1);
  const fleetFile = join(o.dir, `fleet-${o.index}.json`);
  const child = spawn(
    process.execPath,
    [
      ...(o.nodeFlags ?? []),
      "--import",
      "tsx",
      MAIN,
      ...["--devices", String(o.devices), "--register", "bulk"],
      ...["--state-dir", o.stack.stateDir, "--database-url", o.stack.db.url],
      ...["--nats", o.stack.nats.url, "--heartbeat-ms", String(o.heartbeatMs)],
      ...["--fleet-file", fleetFile, "--name-prefix", `p${o.index}`],
      ...["--control-port", String(port), "--stats-every", "0"],
      ...(o.args ?? []),
    ],
    { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, LOG_LEVEL: "warn" } },
  );
  return { child, url: `http://127.0.0.1:${port}`, fleetFile, devices: o.devices };
}

export async function simStats(sim: Sim): Promise<FleetStats | undefined> {
  try {
    return (await (await fetch(`${sim.url}/stats`)).json()) as FleetStats;
  } catch {
    return undefined;
  }
}

/** Every device of the simulator: class, load, what it serves (GET /devices). */
export async function simDevices(sim: Sim): Promise<DeviceView[]> {
  const res = await fetch(`${sim.url}/devices`);
  if (!res.ok) throw new Error(`simulator /devices: HTTP ${res.status}`);
  return ((await res.json()) as { items: DeviceView[] }).items;
}

/** Sets co-tenant load (POST /load, see control-api.ts); the ids of the devices it changed. */
export async function simSetLoad(
  sim: Sim,
  body: {
    factor: number;
    fraction?: number;
    deviceClass?: string;
    deviceIds?: string[];
    seed?: number;
  },
): Promise<string[]> {
  const res = await fetch(`${sim.url}/load`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`simulator /load: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { deviceIds: string[] }).deviceIds;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms: number,
  everyMs = 250,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** SIGTERM to each simulator; resolves when all have exited (ms taken). */
export async function stopSims(sims: Sim[]): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    sims.map(
      (s) =>
        new Promise<void>((r) => {
          if (s.child.exitCode !== null) return r();
          s.child.once("exit", () => r());
          s.child.kill("SIGTERM");
        }),
    ),
  );
  return Math.round(performance.now() - t0);
}
