// Composition root: reads the environment, starts the control plane, stops it on a signal.
import { pino } from "pino";
import { startControlPlane } from "./control-plane";
import { readEnv } from "./env";

const env = readEnv();
const logger = pino({ level: env.LOG_LEVEL, base: { app: "control-plane" } });

try {
  const cp = await startControlPlane({
    databaseUrl: env.DATABASE_URL,
    natsUrl: env.NATS_URL,
    natsPublicUrls: env.NATS_PUBLIC_URLS,
    natsAuth: env.NATS_AUTH,
    natsReplicas: env.NATS_REPLICAS,
    edgeSites: env.EDGE_SITES.split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    stateDir: env.STATE_DIR,
    httpHost: env.HTTP_HOST,
    httpPort: env.HTTP_PORT,
    grpcHost: env.GRPC_HOST,
    grpcPort: env.GRPC_PORT,
    heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
    heartbeatTimeoutMs: env.HEARTBEAT_TIMEOUT_MS,
    deviceJwtTtlSeconds: env.DEVICE_JWT_TTL_SECONDS,
    bootstrapEnrollmentTokenFile: env.BOOTSTRAP_ENROLLMENT_TOKEN_FILE,
    maxArtifactBytes: env.MAX_ARTIFACT_BYTES,
    enrollmentLimits: {
      perSource: env.ENROLL_RATE_PER_SOURCE,
      perToken: env.ENROLL_RATE_PER_TOKEN,
      exempt: env.ENROLL_RATE_EXEMPT,
    },
    consoleDir: env.CONSOLE_DIR,
    controllers: { leaseTtlMs: env.LEASE_TTL_MS, tickMs: env.CONTROLLER_TICK_MS },
    telemetryBatch: {
      maxBatch: env.TELEMETRY_MAX_BATCH,
      maxWaitMs: env.TELEMETRY_MAX_WAIT_MS,
      ackWaitMs: env.TELEMETRY_ACK_WAIT_MS,
    },
    logger,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    cp.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, "unclean stop");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
} catch (err) {
  logger.fatal({ err }, "control plane failed to start");
  process.exit(1);
}
