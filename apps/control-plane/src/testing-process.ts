// Test fixture (fault tests, benchmarks): the control plane as its own OS process, so a test can
// SIGKILL it mid-work the way a crash would, and start it (or a second replica) again. It runs
// `src/main.ts` through tsx with the environment built from the same config the in-process
// fixture uses (`startTestControlPlane(...).config`).
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ProcessHandle, startProcess } from "@edgefleet/testkit";
import type { ControlPlaneConfig } from "./control-plane";

const appDir = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface ControlPlaneProcess {
  httpUrl: string;
  grpcAddress: string;
  process: ProcessHandle;
  /** SIGKILL by default: no lease released, no batch acknowledged, nothing flushed. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ControlPlaneProcessOptions {
  /** Shown in errors (default "control-plane"). */
  name?: string;
  /** The child's pino level (default "info"; its output is kept in `process.output()`). */
  logLevel?: string;
  /** More environment (wins over what the config gives). */
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

/** The environment `main.ts` reads for this config (what `env.ts` parses). */
export function controlPlaneEnv(config: Omit<ControlPlaneConfig, "logger">): NodeJS.ProcessEnv {
  const defined = (v: number | string | undefined) => (v === undefined ? undefined : String(v));
  const env: Record<string, string | undefined> = {
    DATABASE_URL: config.databaseUrl,
    NATS_URL: [config.natsUrl].flat().join(","),
    NATS_PUBLIC_URLS: config.natsPublicUrls?.join(","),
    NATS_AUTH: String(config.natsAuth),
    NATS_REPLICAS: defined(config.natsReplicas),
    STATE_DIR: config.stateDir,
    HTTP_HOST: config.httpHost,
    HTTP_PORT: String(config.httpPort),
    GRPC_HOST: config.grpcHost,
    GRPC_PORT: String(config.grpcPort),
    HEARTBEAT_INTERVAL_MS: String(config.heartbeatIntervalMs),
    HEARTBEAT_TIMEOUT_MS: String(config.heartbeatTimeoutMs),
    DEVICE_JWT_TTL_SECONDS: defined(config.deviceJwtTtlSeconds),
    MAX_ARTIFACT_BYTES: defined(config.maxArtifactBytes),
    CONSOLE_DIR: config.consoleDir,
    LEASE_TTL_MS: defined(config.controllers?.leaseTtlMs),
    CONTROLLER_TICK_MS: defined(config.controllers?.tickMs),
    TELEMETRY_MAX_BATCH: defined(config.telemetryBatch?.maxBatch),
    TELEMETRY_MAX_WAIT_MS: defined(config.telemetryBatch?.maxWaitMs),
    TELEMETRY_ACK_WAIT_MS: defined(config.telemetryBatch?.ackWaitMs),
  };
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
}

/** Starts `tsx src/main.ts` and resolves once it logged "control plane listening". */
export async function startControlPlaneProcess(
  config: Omit<ControlPlaneConfig, "logger">,
  opts: ControlPlaneProcessOptions = {},
): Promise<ControlPlaneProcess> {
  const child = await startProcess({
    name: opts.name ?? "control-plane",
    // node --import tsx (not the tsx CLI): the CLI runs node as its own child, which a SIGKILL
    // of the CLI would leave running.
    command: process.execPath,
    args: ["--import", "tsx", "src/main.ts"],
    cwd: appDir,
    env: {
      ...process.env,
      ...controlPlaneEnv(config),
      LOG_LEVEL: opts.logLevel ?? "info",
      ...opts.env,
    },
    ready: /"msg":"control plane listening"/,
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
  });
  const line = await child.waitFor(/"msg":"control plane listening"/);
  const { http, grpc } = JSON.parse(line) as { http: number; grpc: number };
  return {
    httpUrl: `http://${config.httpHost}:${http}`,
    grpcAddress: `${config.grpcHost}:${grpc}`,
    process: child,
    kill: (signal = "SIGKILL") => child.kill(signal),
  };
}
