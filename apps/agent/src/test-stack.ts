// Test fixture: the control plane fixture plus what agents need (tokens, data dirs, a real but
// brief device runtime simulating an rpi4). For *.int.test.ts files only.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ControlPlaneConfig } from "@edgefleet/control-plane";
import {
  silentLogger,
  startTestControlPlane,
  type TestControlPlane,
} from "@edgefleet/control-plane/testing";
import type { HardwareFactsJson } from "@edgefleet/protocol";
import { until } from "@edgefleet/testkit";
import { type AgentConfig, type RunningAgent, startAgent } from "./agent";
import { deviceRuntime } from "./device-runtime";

export const rpiFacts: HardwareFactsJson = {
  arch: "arm64",
  cores: 4,
  ramTotalBytes: 4 * 2 ** 30,
  ramFreeBytes: 2 * 2 ** 30,
  cpuModel: "Cortex-A72",
  cpuFlags: ["neon", "asimd"],
  accelerators: [],
  os: "linux",
  simulated: true,
  deviceClass: "rpi4",
};

export interface TestStack extends TestControlPlane {
  newEnrollmentToken(maxUses?: number): Promise<string>;
  agentConfig(dataDir: string, token?: string, overrides?: Partial<AgentConfig>): AgentConfig;
  newDataDir(): Promise<string>;
  /**
   * `count` in-process agents named `<prefix>-<i>`, each enrolled, connected and with its
   * profile stored (what plans need: `profiled()` only waits for a measurement under way).
   */
  startProfiledAgents(
    count: number,
    prefix: string,
    overrides?: Partial<AgentConfig>,
  ): Promise<Array<{ agent: RunningAgent; dataDir: string }>>;
}

/**
 * `overrides`: control-plane settings, e.g. slower heartbeats for agents running as processes;
 * `nats`: how NATS is started (e.g. `{natsNodes: 3}`: a JetStream cluster).
 */
export async function startTestStack(
  overrides: Partial<ControlPlaneConfig> = {},
  opts: Parameters<typeof startTestControlPlane>[1] = {},
): Promise<TestStack> {
  const base = await startTestControlPlane(overrides, opts);
  const dirs: string[] = [];
  // One thread and short rounds: real measurements, kept brief on a shared test machine.
  const runtime = deviceRuntime({
    threads: 1,
    simulatedClass: "rpi4",
    microbench: { rounds: 2, runsPerRound: 2, dramBytes: 16 * 2 ** 20 },
  });
  const stack: TestStack = {
    ...base,
    async newEnrollmentToken(maxUses = 1) {
      const res = await base.api("/api/v1/enrollment-tokens", {
        method: "POST",
        body: JSON.stringify({ label: "test", maxUses, expiresInSeconds: 600 }),
      });
      if (res.status !== 201) throw new Error(`enrollment token: HTTP ${res.status}`);
      return res.body.token as string;
    },
    agentConfig(dataDir, token, overrides = {}) {
      return {
        dataDir,
        controlPlaneGrpc: base.cp.grpcAddress,
        enrollmentToken: token,
        name: "pi-1",
        labels: { site: "lab" },
        agentVersion: "0.1.0-test",
        runtime: { ...runtime, readFacts: async () => rpiFacts },
        logger: silentLogger,
        ...overrides,
      };
    },
    async newDataDir() {
      const dir = await mkdtemp(join(tmpdir(), "ef-agent-"));
      dirs.push(dir);
      return dir;
    },
    async startProfiledAgents(count, prefix, overrides = {}) {
      const started: Array<{ agent: RunningAgent; dataDir: string }> = [];
      for (let i = 0; i < count; i++) {
        const dataDir = await stack.newDataDir();
        const agent = await startAgent(
          stack.agentConfig(dataDir, await stack.newEnrollmentToken(), {
            name: `${prefix}-${i}`,
            ...overrides,
          }),
        );
        started.push({ agent, dataDir });
        await agent.connected;
      }
      for (const { agent } of started) {
        await until(
          `the profile of ${agent.deviceId}`,
          async () =>
            (await base.api(`/api/v1/devices/${agent.deviceId}/profile`)).status === 200 ||
            undefined,
          30_000,
        );
      }
      return started;
    },
    async stop() {
      await base.stop();
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
  return stack;
}

export { until };
