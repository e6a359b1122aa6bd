// Device agents of the local stack run as separate processes, as on real devices: kill one and
// the control plane sees it go offline; start it again and it reuses its stored identity.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

export interface AgentSpec {
  name: string;
  simulatedClass: string;
  dataDir: string;
  /** The agent's local inference API (HTTP) and its gRPC twin on the next port. */
  localApiPort: number;
  /** Its own data for federated calibration (CALIBRATION_DATA), e.g. `mnist:digits=0,3,6,9`. */
  calibrationData?: string;
}

/** A skewed share of the MNIST digits for agent `i` of `n`: digit d goes to agent d mod n. */
export function localDigits(i: number, n: number): string {
  const digits = Array.from({ length: 10 }, (_, d) => d).filter((d) => d % n === i % n);
  return digits.length ? `mnist:digits=${digits.join(",")}` : "";
}

export interface AgentProcesses {
  children: Map<string, ChildProcess>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function spawnAgents(opts: {
  specs: AgentSpec[];
  controlPlaneGrpc: string;
  enrollmentToken: string;
  logDir: string;
  logLevel: string;
  /** V8 flags for each agent (see AGENT_NODE_FLAGS). */
  nodeFlags: string[];
}): Promise<AgentProcesses> {
  await mkdir(opts.logDir, { recursive: true });
  // The bundle (npm start builds it), as a device runs it: no TypeScript loader in the process.
  const main = join(dirname(require.resolve("@edgefleet/agent/package.json")), "dist", "agent.mjs");
  const children = new Map<string, ChildProcess>();
  for (const spec of opts.specs) {
    const log = createWriteStream(join(opts.logDir, `${spec.name}.log`), { flags: "a" });
    const child = spawn(process.execPath, [...opts.nodeFlags, main], {
      env: {
        ...process.env,
        CONTROL_PLANE_GRPC: opts.controlPlaneGrpc,
        ENROLLMENT_TOKEN: opts.enrollmentToken,
        DATA_DIR: resolve(spec.dataDir),
        DEVICE_NAME: spec.name,
        SIMULATED_CLASS: spec.simulatedClass,
        LABELS: `stack=local,class=${spec.simulatedClass || "real"}`,
        LOCAL_API_PORT: String(spec.localApiPort),
        LOCAL_GRPC_PORT: String(spec.localApiPort + 1),
        LOG_LEVEL: opts.logLevel,
        ...(spec.calibrationData ? { CALIBRATION_DATA: spec.calibrationData } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: a terminal's Ctrl-C reaches only the stack, which stops agents
      // before the services they depend on.
      detached: true,
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    children.set(spec.name, child);
  }
  // Backstop for an exit that skips the ordered stop (see nats-process.ts).
  const killOnExit = () => {
    for (const child of children.values()) if (child.exitCode === null) child.kill("SIGTERM");
  };
  process.once("exit", killOnExit);
  return {
    children,
    async stop() {
      process.off("exit", killOnExit);
      await Promise.all(
        [...children.values()].map(
          (child) =>
            new Promise<void>((r) => {
              if (child.exitCode !== null || child.signalCode !== null) return r();
              child.once("exit", () => r());
              child.kill("SIGTERM");
              const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
              child.once("exit", () => clearTimeout(killer));
            }),
        ),
      );
    },
  };
}
