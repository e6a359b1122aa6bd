// Composition of the control plane from explicit config: database, NATS, services, transports.
// `main.ts` builds the config from the environment; tests build it directly.

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import {
  closeBus,
  connectBus,
  decodeUserJwt,
  ensureStores,
  ensureStreams,
  type FleetAuth,
  formatCreds,
  loadOrCreateFleetAuth,
  mintDeviceCredentials,
  waitForJetStream,
} from "@edgefleet/bus";
import { createPrisma, createRepos, migrate, type Repos } from "@edgefleet/db";
import type { HysteresisOptions } from "@edgefleet/planner";
import { subjects } from "@edgefleet/protocol";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { CalibrationService } from "./calibration/calibration-service";
import { LeaseKeeper } from "./controllers/lease";
import { RetargetController } from "./controllers/retarget-controller";
import { RolloutController } from "./controllers/rollout-controller";
import { FleetEvents } from "./fleet-events";
import { bindGrpc, createGrpcServer } from "./grpc/server";
import { createHttpApp } from "./http/app";
import { defaultConsoleDir } from "./http/console-static";
import { JobBroker } from "./jobs/job-broker";
import { JobService } from "./jobs/job-service";
import { ControlPlaneMetrics } from "./metrics";
import { AccountPusher } from "./nats/account-pusher";
import { startDeviceListener } from "./nats/device-listener";
import { natsArtifactStore, natsDesiredStore, natsNotifier } from "./nats/dispatch-stores";
import { keepSiteStreams } from "./nats/site-streams";
import { startTelemetryConsumer } from "./nats/telemetry-consumer";
import { natsPipelineBus } from "./pipelines/pipeline-bus";
import { PipelineService, type PipelineServiceOptions } from "./pipelines/pipeline-service";
import { AccessService } from "./services/access-service";
import { ArtifactService } from "./services/artifact-service";
import { AssignmentService } from "./services/assignment-service";
import { AuthService } from "./services/auth-service";
import { CatalogService } from "./services/catalog-service";
import { CredentialsService } from "./services/credentials-service";
import { DeviceService } from "./services/device-service";
import type { ManifestSigner } from "./services/dispatch-ports";
import { EnrollmentLimits, type EnrollmentLimitsConfig } from "./services/enrollment-limits";
import { EnrollmentService } from "./services/enrollment-service";
import { LatencyService } from "./services/latency-service";
import { PlanService } from "./services/plan-service";
import { type DeviceRpc, ProfileService } from "./services/profile-service";
import { RolloutService } from "./services/rollout-service";
import { TelemetryService } from "./services/telemetry-service";
import { TokenService } from "./services/token-service";
import { loadOrCreateSigner } from "./signing-key";
import { TokenRevocations } from "./token-revocations";
import { attachFleetStream } from "./ws/fleet-stream";

export type { EnrollmentLimitsConfig } from "./services/enrollment-limits";

export interface ControlPlaneConfig {
  databaseUrl: string;
  /** One NATS URL, or every node of a cluster (the connections fail over between them). */
  natsUrl: string | string[];
  /** NATS URLs handed to devices; default natsUrl. */
  natsPublicUrls?: string[];
  /** false when NATS runs without the fleet operator (devices then get JWTs it ignores). */
  natsAuth: boolean;
  /** Replicas of the streams, KV and Object Store the control plane creates (default 1; 3 on a
   * 3-node cluster so one node may fail). */
  natsReplicas?: number;
  /** Edge sites (issue 11): names of the sites' JetStream domains, whose buffered telemetry and
   * events the hub's streams source; the hub server must run with JetStream domain `hub`. */
  edgeSites?: string[];
  stateDir: string;
  httpHost: string;
  httpPort: number;
  grpcHost: string;
  grpcPort: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Lifetime of device user JWTs (default 24 h); agents renew at about 2/3 of it (issue 11). */
  deviceJwtTtlSeconds?: number;
  /** Write a many-use enrollment token here at first start (unattended stacks). */
  bootstrapEnrollmentTokenFile?: string;
  /** The built web console served at `/` (default: apps/console/dist of this clone). */
  consoleDir?: string;
  /** Enrollment rate limits per source and per token (issue 11); absent: not limited. */
  enrollmentLimits?: EnrollmentLimitsConfig;
  /** Largest artifact an upload may carry (default 512 MiB). */
  maxArtifactBytes?: number;
  /** Telemetry batching (default 500 messages or 100 ms; redelivery after 30 s without ack). */
  telemetryBatch?: { maxBatch?: number; maxWaitMs?: number; ackWaitMs?: number };
  /** The rollout and re-targeting controllers (they run in the process holding the lease). */
  controllers?: {
    enabled?: boolean;
    /** Rollout controller tick (default 1 s). */
    tickMs?: number;
    /** Lease time to live (default 10 s): how long a dead holder blocks a successor. */
    leaseTtlMs?: number;
    retarget?: {
      everyMs?: number;
      windowMs?: number;
      hysteresis?: Partial<HysteresisOptions>;
      /** Which completed rollouts it looks after (default: every one). */
      include?: (rollout: { id: string; name: string }) => boolean;
      /** The controller's clock (tests run it on virtual time). */
      now?: () => Date;
    };
  };
  /** Pipeline-split inference: retry and deadline of requests (issue 9). */
  pipelines?: PipelineServiceOptions;
  logger: Logger;
  /** Sharded batch jobs: reminder and wait intervals (jobs/job-broker.ts). */
  jobs?: { noticeEveryMs?: number; waitMs?: number };
}

export interface ControlPlane {
  httpUrl: string;
  grpcAddress: string;
  adminTokenPath: string;
  /** The controllers (they act only while this process holds the lease). */
  controllers: Awaited<ReturnType<typeof startControllers>>;
  /** Pipeline-split inference (issue 9). */
  pipelines: PipelineService;
  stop(): Promise<void>;
}

export async function startControlPlane(config: ControlPlaneConfig): Promise<ControlPlane> {
  const { logger } = config;
  const { applied } = await migrate(config.databaseUrl);
  if (applied.length) logger.info({ applied }, "migrations applied");
  const prisma = createPrisma(config.databaseUrl);
  const repos = createRepos(prisma);
  const fleetAuth = await loadOrCreateFleetAuth(config.stateDir);

  const nc = await connectBus({
    servers: config.natsUrl,
    name: "control-plane",
    creds: config.natsAuth
      ? formatCreds(fleetAuth.controlPlane.jwt, fleetAuth.controlPlane.seed)
      : undefined,
    logger: logger.child({ component: "nats" }),
  });
  // Credentials (issue 11): revocations live in Postgres and are pushed to the full resolver.
  const accountPusher = config.natsAuth
    ? new AccountPusher({
        auth: fleetAuth,
        revokedKeys: repos.revokedKeys,
        servers: config.natsUrl,
        logger: logger.child({ component: "account-push" }),
      })
    : undefined;
  await accountPusher?.start();
  // Faults (issue 11): R3 on a 3-node cluster survives the loss of one node.
  const replicas = config.natsReplicas ?? 1;
  const sites = config.edgeSites ?? [];
  // A NATS that has just started (a cluster, an account JWT still being pushed) answers "no
  // responders" on the JetStream API for a moment: wait for it rather than fail the start.
  await waitForJetStream(nc, { logger });
  await ensureStreams(nc, { replicas, sites });
  const siteStreams = keepSiteStreams(nc, sites, {
    replicas,
    logger: logger.child({ component: "sites" }),
  });
  const stores = await ensureStores(nc, { replicas });
  const signer = await loadOrCreateSigner(config.stateDir);

  const jobBroker = new JobBroker(nc, logger.child({ component: "jobs" }), config.jobs);
  const services = buildServices(config, {
    repos,
    nc,
    fleetAuth,
    stores,
    signer,
    jobBroker,
    pushRevocations: () => accountPusher?.push() ?? Promise.resolve(),
  });
  const { auth, devices, tokens, events, metrics } = services;
  events.attach(nc, subjects.fleetEvents, (err) =>
    logger.warn({ err: String(err) }, "malformed fleet event dropped"),
  );
  // --- access (issue 11): revocations reach every replica's open streams ---
  services.revocations.attach(nc, subjects.apiTokenRevoked, (err) =>
    logger.warn({ err: String(err) }, "malformed token revocation dropped"),
  );

  const adminTokenPath = join(config.stateDir, "admin-token");
  if ((await tokens.ensureAdminToken(adminTokenPath)).created) {
    logger.info({ path: adminTokenPath }, "first start: admin API token written");
  }

  if (config.bootstrapEnrollmentTokenFile) {
    await tokens.ensureBootstrapEnrollmentToken(config.bootstrapEnrollmentTokenFile);
  }

  const listener = await startDeviceListener(
    nc,
    devices,
    logger.child({ component: "devices" }),
    metrics,
  );
  const telemetryConsumer = await startTelemetryConsumer(
    nc,
    services.telemetry,
    logger.child({ component: "telemetry" }),
    metrics,
    config.telemetryBatch,
  );
  await jobBroker.start(services.jobs);
  services.pipelines.start();
  const sweepEveryMs = Math.max(100, Math.min(config.heartbeatTimeoutMs / 4, 5_000));
  const sweeper = setInterval(() => {
    devices.sweepOffline().catch((err) => logger.warn({ err }, "offline sweep failed"));
  }, sweepEveryMs);

  const app = createHttpApp({
    ...services,
    logger,
    consoleDir: config.consoleDir ?? defaultConsoleDir(),
    health: async () => ({
      database: await prisma.$queryRaw`SELECT 1`.then(
        () => true,
        () => false,
      ),
      nats: !nc.isClosed(),
    }),
  });
  const http: HttpServer = createServer(app);
  const wss = attachFleetStream(http, {
    auth,
    events,
    logger,
    revocations: services.revocations,
  });
  http.listen(config.httpPort, config.httpHost);
  await once(http, "listening");
  const httpPort = (http.address() as AddressInfo).port;

  const controllers = await startControllers(config, services, repos, logger);

  const grpc = createGrpcServer({ ...services, logger: logger.child({ component: "grpc" }) });
  const grpcPort = await bindGrpc(grpc, config.grpcHost, config.grpcPort);

  logger.info({ http: httpPort, grpc: grpcPort }, "control plane listening");
  let stopped: Promise<void> | undefined;
  return {
    httpUrl: `http://${config.httpHost}:${httpPort}`,
    grpcAddress: `${config.grpcHost}:${grpcPort}`,
    adminTokenPath,
    controllers,
    pipelines: services.pipelines,
    stop: () => {
      stopped ??= stop();
      return stopped;
    },
  };
  async function stop() {
    clearInterval(sweeper);
    siteStreams.stop();
    services.pipelines.stop();
    await controllers.stop();
    await new Promise<void>((resolve) => grpc.tryShutdown(() => resolve()));
    for (const client of wss.clients) client.close(1001, "server shutting down");
    wss.close();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await listener.stop();
    await telemetryConsumer.stop();
    await jobBroker.stop();
    services.jobs.stop();
    events.detach();
    services.revocations.detach();
    await accountPusher?.stop();
    await closeBus(nc);
    await prisma.$disconnect();
    logger.info("control plane stopped");
  }
}

/** Every service, built once; transports (REST, gRPC, ws, NATS) share them. */
function buildServices(
  config: ControlPlaneConfig,
  io: {
    repos: Repos;
    nc: NatsConnection;
    fleetAuth: FleetAuth;
    stores: Awaited<ReturnType<typeof ensureStores>>;
    signer: ManifestSigner;
    jobBroker: JobBroker;
    pushRevocations: () => Promise<void>;
  },
) {
  const { repos, nc, fleetAuth, stores, signer } = io;
  const ttlSeconds = config.deviceJwtTtlSeconds ?? 24 * 3600;
  const mintDevice = async (d: { deviceId: string; publicKey: string }) => {
    const { jwt } = await mintDeviceCredentials(fleetAuth, d, { ttlSeconds });
    return { userJwt: jwt, expiresAt: decodeUserJwt(jwt).exp ?? 0 };
  };
  const events = new FleetEvents();
  const revocations = new TokenRevocations();
  const metrics = new ControlPlaneMetrics({
    devicesByStatus: () => repos.devices.countByStatus(),
    deploymentsByPhase: () => repos.dispatch.countByPhase(),
    rollouts: async () => {
      const rows = await repos.rollouts.inState(["running", "paused", "halted", "completed"]);
      const out = [];
      for (const r of rows.slice(-20)) {
        const found = await repos.rollouts.find(r.id);
        const states: Record<string, number> = {};
        for (const wave of Object.values(found?.counts ?? {})) {
          for (const [state, n] of Object.entries(wave)) states[state] = (states[state] ?? 0) + n;
        }
        const gates = (r.gates as { gate: string; value: number | null }[] | null) ?? [];
        out.push({ id: r.id, name: `${r.name}/${r.id.slice(0, 8)}`, states, gates });
      }
      return out;
    },
  });
  const rpc: DeviceRpc = {
    async request(subject, payload, timeout, fields) {
      const h = fields ? headers() : undefined;
      for (const [k, v] of Object.entries(fields ?? {})) h?.set(k, v);
      return (await nc.request(subject, payload, { timeout, headers: h })).data;
    },
  };
  const profiles = new ProfileService({ repos, events, rpc });
  const desired = natsDesiredStore(nc, stores.desired);
  const assignments = new AssignmentService({
    repos,
    desired,
    notifier: natsNotifier(nc),
    events,
  });
  const artifactStore = natsArtifactStore(stores.artifacts);
  const pokes = new Set<() => void>();
  const jobs = new JobService({
    repos,
    assignments,
    artifacts: artifactStore,
    queue: io.jobBroker,
    events,
  });
  const artifacts = new ArtifactService({
    repos,
    store: artifactStore,
    maxBytes: config.maxArtifactBytes ?? 512 * 2 ** 20,
  });
  const catalog = new CatalogService({ repos, signer });
  return {
    // Federated calibration (issue 9).
    calibrations: new CalibrationService({
      repos,
      rpc,
      events,
      artifacts,
      readArtifact: (digest) => artifactStore.get(digest),
      catalog,
      logger: config.logger.child({ component: "calibration" }),
    }),
    events,
    metrics,
    assignments,
    jobs,
    artifactStore,
    /** Controllers register here, so a transition over the API acts at once. */
    pokes,
    rollouts: new RolloutService({
      repos,
      artifacts: artifactStore,
      events,
      poke: () => {
        for (const p of pokes) p();
      },
    }),
    artifacts,
    telemetry: new TelemetryService({ repos, events, metrics }),
    auth: new AuthService(repos.apiTokens),
    profiles,
    latency: new LatencyService({ repos, rpc }),
    catalog,
    plans: new PlanService({ repos }),
    devices: new DeviceService({
      repos,
      profiles,
      assignments,
      events,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    }),
    tokens: new TokenService({ repos }),
    // --- access (issue 11) ---
    revocations,
    access: new AccessService({ repos, revocations }),
    // Pipeline-split inference (issue 9).
    pipelines: new PipelineService({
      repos,
      bus: natsPipelineBus(nc),
      artifacts: artifactStore,
      signer,
      events,
      logger: config.logger.child({ component: "pipelines" }),
      options: config.pipelines,
    }),
    enrollment: new EnrollmentService({
      repos,
      events,
      natsUrls: config.natsPublicUrls ?? [config.natsUrl].flat(),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      artifactPublicKey: signer.publicKeyPem,
      mintUserJwt: async (d) => (await mintDevice(d)).userJwt,
      limits: config.enrollmentLimits
        ? new EnrollmentLimits({ repos, config: config.enrollmentLimits })
        : undefined,
    }),
    // --- credentials (issue 11): renewal and decommission ---
    credentials: new CredentialsService({
      repos,
      mint: mintDevice,
      pushRevocations: io.pushRevocations,
      desired,
      events,
      logger: config.logger.child({ component: "credentials" }),
    }),
  };
}

/** The lease and the controllers that run while this process holds it. */
async function startControllers(
  config: ControlPlaneConfig,
  services: ReturnType<typeof buildServices>,
  repos: Repos,
  logger: Logger,
) {
  const c = config.controllers ?? {};
  if (c.enabled === false)
    return { rollout: undefined, retarget: undefined, lease: undefined, stop: async () => {} };
  const log = logger.child({ component: "controllers" });
  const lease = new LeaseKeeper(
    repos.rollouts,
    {
      name: "controllers",
      holder: `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`,
      ttlMs: c.leaseTtlMs ?? 10_000,
    },
    log,
  );
  const rollout = new RolloutController({
    repos,
    assignments: services.assignments,
    rollouts: services.rollouts,
    artifacts: services.artifactStore,
    lease,
    logger: log.child({ controller: "rollout" }),
    tickMs: c.tickMs,
  });
  const retarget = new RetargetController({
    repos,
    assignments: services.assignments,
    events: services.events,
    lease,
    logger: log.child({ controller: "retarget" }),
    ...c.retarget,
  });
  services.pokes.add(() => rollout.poke());
  lease.onChange((held) => {
    if (held) rollout.poke();
  });
  await lease.start();
  rollout.start();
  retarget.start();
  return {
    rollout,
    retarget,
    lease,
    async stop() {
      await rollout.stop();
      await retarget.stop();
      await lease.stop();
    },
  };
}
