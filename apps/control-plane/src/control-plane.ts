// Composition of the control plane from explicit config: database, NATS, services, transports.
// `main.ts` builds the config from the environment; tests build it directly.
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  closeBus,
  connectBus,
  ensureStreams,
  type FleetAuth,
  formatCreds,
  loadOrCreateFleetAuth,
  mintDeviceCredentials,
} from "@edgefleet/bus";
import { createPrisma, createRepos, migrate, type Repos } from "@edgefleet/db";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { FleetEvents } from "./fleet-events";
import { bindGrpc, createGrpcServer } from "./grpc/server";
import { createHttpApp } from "./http/app";
import { startDeviceListener } from "./nats/device-listener";
import { AuthService } from "./services/auth-service";
import { CatalogService } from "./services/catalog-service";
import { DeviceService } from "./services/device-service";
import { EnrollmentService } from "./services/enrollment-service";
import { LatencyService } from "./services/latency-service";
import { PlanService } from "./services/plan-service";
import { type DeviceRpc, ProfileService } from "./services/profile-service";
import { TokenService } from "./services/token-service";
import { attachFleetStream } from "./ws/fleet-stream";

export interface ControlPlaneConfig {
  databaseUrl: string;
  natsUrl: string;
  /** NATS URLs handed to devices; default [natsUrl]. */
  natsPublicUrls?: string[];
  /** false when NATS runs without the fleet operator (devices then get JWTs it ignores). */
  natsAuth: boolean;
  stateDir: string;
  httpHost: string;
  httpPort: number;
  grpcHost: string;
  grpcPort: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Write a many-use enrollment token here at first start (unattended stacks). */
  bootstrapEnrollmentTokenFile?: string;
  logger: Logger;
}

export interface ControlPlane {
  httpUrl: string;
  grpcAddress: string;
  adminTokenPath: string;
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
  await ensureStreams(nc);

  const services = buildServices(config, repos, nc, fleetAuth);
  const { auth, devices, tokens, events } = services;

  const adminTokenPath = join(config.stateDir, "admin-token");
  if ((await tokens.ensureAdminToken(adminTokenPath)).created) {
    logger.info({ path: adminTokenPath }, "first start: admin API token written");
  }

  if (config.bootstrapEnrollmentTokenFile) {
    await tokens.ensureBootstrapEnrollmentToken(config.bootstrapEnrollmentTokenFile);
  }

  const listener = await startDeviceListener(nc, devices, logger.child({ component: "devices" }));
  const sweepEveryMs = Math.max(100, Math.min(config.heartbeatTimeoutMs / 4, 5_000));
  const sweeper = setInterval(() => {
    devices.sweepOffline().catch((err) => logger.warn({ err }, "offline sweep failed"));
  }, sweepEveryMs);

  const app = createHttpApp({
    ...services,
    logger,
    health: async () => ({
      database: await prisma.$queryRaw`SELECT 1`.then(
        () => true,
        () => false,
      ),
      nats: !nc.isClosed(),
    }),
  });
  const http: HttpServer = createServer(app);
  const wss = attachFleetStream(http, { auth, events, logger });
  http.listen(config.httpPort, config.httpHost);
  await once(http, "listening");
  const httpPort = (http.address() as AddressInfo).port;

  const grpc = createGrpcServer({ ...services, logger: logger.child({ component: "grpc" }) });
  const grpcPort = await bindGrpc(grpc, config.grpcHost, config.grpcPort);

  logger.info({ http: httpPort, grpc: grpcPort }, "control plane listening");
  return {
    httpUrl: `http://${config.httpHost}:${httpPort}`,
    grpcAddress: `${config.grpcHost}:${grpcPort}`,
    adminTokenPath,
    async stop() {
      clearInterval(sweeper);
      await new Promise<void>((resolve) => grpc.tryShutdown(() => resolve()));
      for (const client of wss.clients) client.close(1001, "server shutting down");
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await listener.stop();
      await closeBus(nc);
      await prisma.$disconnect();
      logger.info("control plane stopped");
    },
  };
}

/** Every service, built once; transports (REST, gRPC, ws, NATS) share them. */
function buildServices(
  config: ControlPlaneConfig,
  repos: Repos,
  nc: NatsConnection,
  fleetAuth: FleetAuth,
) {
  const events = new FleetEvents();
  const rpc: DeviceRpc = {
    async request(subject, payload, timeout, fields) {
      const h = fields ? headers() : undefined;
      for (const [k, v] of Object.entries(fields ?? {})) h?.set(k, v);
      return (await nc.request(subject, payload, { timeout, headers: h })).data;
    },
  };
  const profiles = new ProfileService({ repos, events, rpc });
  return {
    events,
    auth: new AuthService(repos.apiTokens),
    profiles,
    latency: new LatencyService({ repos, rpc }),
    catalog: new CatalogService({ repos }),
    plans: new PlanService({ repos }),
    devices: new DeviceService({
      repos,
      profiles,
      events,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    }),
    tokens: new TokenService({ repos }),
    enrollment: new EnrollmentService({
      repos,
      events,
      natsUrls: config.natsPublicUrls ?? [config.natsUrl],
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      mintUserJwt: async (d) => (await mintDeviceCredentials(fleetAuth, d)).jwt,
    }),
  };
}
