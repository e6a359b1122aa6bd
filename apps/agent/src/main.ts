// Composition root of the device agent.
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { natsServers } from "@edgefleet/bus";
import { pino } from "pino";
import pkg from "../package.json" with { type: "json" };
import { startAgent } from "./agent";
import { parseLocalDataset } from "./calibration/local-dataset";
import { deviceRuntime } from "./device-runtime";
import { parseLabels, readEnv } from "./env";

const env = readEnv();
const logger = pino({ level: env.LOG_LEVEL, base: { app: "agent", name: env.DEVICE_NAME } });

try {
  const runtime = deviceRuntime({
    threads: env.INFERENCE_THREADS ?? availableParallelism(),
    simulatedClass: env.SIMULATED_CLASS,
    memoryCapBytes: env.SIMULATED_MEMORY_BYTES,
  });
  const agent = await startAgent({
    dataDir: env.DATA_DIR,
    controlPlaneGrpc: env.CONTROL_PLANE_GRPC,
    enrollmentToken:
      env.ENROLLMENT_TOKEN ??
      (env.ENROLLMENT_TOKEN_FILE
        ? (await readFile(env.ENROLLMENT_TOKEN_FILE, "utf8")).trim()
        : undefined),
    name: env.DEVICE_NAME,
    labels: parseLabels(env.LABELS),
    agentVersion: pkg.version,
    runtime,
    logger,
    localApi: {
      host: env.LOCAL_API_HOST,
      httpPort: env.LOCAL_API_PORT,
      grpcPort: env.LOCAL_GRPC_PORT,
    },
    telemetryIntervalMs: env.TELEMETRY_INTERVAL_MS,
    cacheBudgetBytes: env.ARTIFACT_CACHE_BYTES,
    nats: {
      urls: env.NATS_URL ? natsServers(env.NATS_URL, "NATS_URL") : undefined,
      artifactDomain: env.NATS_JS_DOMAIN || undefined,
      desiredDomain: env.NATS_DESIRED_DOMAIN || undefined,
    },
    ...(env.CALIBRATION_DATA ? { calibrationData: parseLocalDataset(env.CALIBRATION_DATA) } : {}),
  });
  logger.info({ http: agent.localUrl, grpc: agent.localGrpc }, "local inference API listening");
  void agent.lost.then(() => process.exit(1));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    agent.stop(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
} catch (err) {
  logger.fatal({ err }, "agent failed to start");
  process.exit(1);
}
