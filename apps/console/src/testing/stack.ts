// A small real fleet for the browser tests and the screenshots: the control plane (serving the
// built console), Postgres, nats-server, scripted devices of several classes that apply what they
// are told and serve traffic, and a model whose variants trade size, latency and accuracy.
// Real agents join through `stack` (apps/agent's test stack). Node only: never bundled.
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunningAgent, startAgent } from "@edgefleet/agent";
import { startTestStack, type TestStack } from "@edgefleet/agent/test-stack";
import { ScriptedDevice } from "@edgefleet/control-plane/testing";
import type { DeviceClassName } from "@edgefleet/runtime/facts";
import { build } from "vite";

export const CONSOLE_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DIST_INDEX = join(CONSOLE_ROOT, "dist", "index.html");

/** Builds the console when dist/ is missing or older than its sources (turbo builds it first). */
export async function ensureConsoleBuilt(): Promise<void> {
  const newest = (path: string): number => {
    const st = statSync(path);
    if (!st.isDirectory()) return st.mtimeMs;
    return Math.max(0, ...readdirSync(path).map((f) => newest(join(path, f))));
  };
  const sources = Math.max(
    newest(join(CONSOLE_ROOT, "src")),
    newest(join(CONSOLE_ROOT, "index.html")),
    newest(join(CONSOLE_ROOT, "vite.config.ts")),
  );
  if (existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= sources) return;
  await build({ root: CONSOLE_ROOT, logLevel: "warn" });
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** One line, so a missing browser is a clear failure rather than a skipped test. */
export function requireChromium(): string {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install it with "apt-get install -y --no-install-recommends chromium" (or set CHROMIUM_PATH)`,
    );
  }
  return CHROMIUM;
}

export interface DemoFleet {
  stack: TestStack;
  devices: (ScriptedDevice & { name: string })[];
  modelId: string;
  variantIds: Map<string, string>;
  /** A real agent (ONNX Runtime, profiling, its own identity), enrolled now. */
  startAgent(name: string, labels?: Record<string, string>): Promise<RunningAgent>;
  stop(): Promise<void>;
}

const CLASSES: [string, DeviceClassName, Record<string, string>][] = [
  ["cam-entrance", "rpi4", { fleet: "sim", site: "lab" }],
  ["cam-dock", "rpi4", { fleet: "sim", site: "dock" }],
  ["gw-north", "x86-gateway", { fleet: "sim", site: "lab" }],
  ["jetson-line-1", "jetson-nano", { fleet: "sim", site: "plant" }],
];

/** Milliseconds a device answers in, by variant, before its class's slowdown. */
const LATENCY: Record<string, number> = { fp32: 6, int8: 2.5, int4: 1.6, "prune-50": 3.5 };
const SLOWDOWN: Partial<Record<DeviceClassName, number>> = { rpi4: 3, "jetson-nano": 1.5 };

export async function startDemoFleet(opts: { devices?: number } = {}): Promise<DemoFleet> {
  const stack = await startTestStack();
  const agents: RunningAgent[] = [];
  const model = await stack.importModel({
    name: "mnist-mlp",
    version: "1",
    variants: [
      {
        name: "fp32",
        bytes: randomBytes(40_000),
        accuracy: 0.981,
        latencyMs: { batch1: 0.42, batch64: 4.8 },
      },
      {
        name: "int8",
        bytes: randomBytes(11_000),
        accuracy: 0.978,
        kernelType: "int8",
        latencyMs: { batch1: 0.12, batch64: 1.3 },
      },
      {
        name: "int4",
        bytes: randomBytes(6_500),
        accuracy: 0.962,
        kernelType: "int4",
        latencyMs: { batch1: 0.1, batch64: 1.1 },
      },
      {
        name: "prune-50",
        bytes: randomBytes(24_000),
        accuracy: 0.955,
        latencyMs: { batch1: 0.3, batch64: 3.9 },
      },
    ],
  });
  const devices: DemoFleet["devices"] = [];
  for (const [name, deviceClass, labels] of CLASSES.slice(0, opts.devices ?? CLASSES.length)) {
    const { deviceId, nc } = await stack.enrollDevice(name, { deviceClass, labels });
    const d = Object.assign(new ScriptedDevice(deviceId, nc), { name });
    d.load = SLOWDOWN[deviceClass] ?? 1;
    d.latency = LATENCY;
    devices.push(d);
  }
  // Every scripted device starts on int8 and serves traffic, so latency charts have a history.
  const int8 = model.variantIds.get("int8")!;
  for (const d of devices) {
    const res = await stack.api(`/api/v1/devices/${d.deviceId}/assignment`, {
      method: "PUT",
      body: JSON.stringify({ variantId: int8 }),
    });
    if (res.status !== 200)
      throw new Error(`assign: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  }
  const traffic = setInterval(() => {
    for (const d of devices) {
      d.heartbeat();
      void d.serve(60).catch(() => {});
    }
  }, 300);
  return {
    stack,
    devices,
    modelId: model.modelId,
    variantIds: model.variantIds,
    async startAgent(name, labels = { site: "lab" }) {
      const dir = await stack.newDataDir();
      const agent = await startAgent(
        stack.agentConfig(dir, await stack.newEnrollmentToken(), { name, labels }),
      );
      agents.push(agent);
      return agent;
    },
    async stop() {
      clearInterval(traffic);
      await Promise.all(agents.map((a) => a.stop().catch(() => {})));
      await stack.stop();
    },
  };
}
