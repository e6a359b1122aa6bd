// Test fixture (for *.int.test.ts in other packages): a control plane on a fresh Postgres
// database and its own operator-mode nats-server, all real, on loopback ports.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connectBus,
  connectDevice,
  type FleetAuth,
  formatCreds,
  loadOrCreateFleetAuth,
  type ServerConfigOptions,
  writeServerConfig,
} from "@edgefleet/bus";
import { createPrisma, PrismaApiTokenRepo } from "@edgefleet/db";
import { createTestDatabase, type TestDatabase } from "@edgefleet/db/testing";
import { encodeJson, type HardwareFactsJson, subjects } from "@edgefleet/protocol";
import { EnrollmentServiceClient, EnrollRequest } from "@edgefleet/protocol/grpc";
import {
  type DeviceClassName,
  deviceClass,
  REFERENCE_HOST_FACTS,
  referenceProfile,
  simulateFacts,
} from "@edgefleet/runtime/facts";
import {
  type NatsClusterHandle,
  type NatsServerContext,
  type NatsServerHandle,
  startNatsCluster,
  startNatsServerWithConfig,
  until,
} from "@edgefleet/testkit";
import { credentials } from "@grpc/grpc-js";
import { jetstream } from "@nats-io/jetstream";
import { createUser } from "@nats-io/nkeys";
import type { NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { type ControlPlane, type ControlPlaneConfig, startControlPlane } from "./control-plane";
import type { ImportModelInput } from "./services/catalog-service";

export { ScriptedDevice } from "./scripted-device";

/** Silent, unless EF_TEST_LOG names a level (debugging a test: EF_TEST_LOG=debug npx vitest …). */
export const silentLogger = pino({ level: process.env.EF_TEST_LOG ?? "silent" });

export interface TestControlPlane {
  cp: ControlPlane;
  /** What `cp` was started with (start more replicas, or `startControlPlaneProcess`, from it). */
  config: ControlPlaneConfig;
  db: TestDatabase;
  /** The server (with `natsNodes`, the cluster's first node). */
  nats: NatsServerHandle;
  /** With `natsNodes`: every node; the control plane and devices are given all their URLs. */
  cluster?: NatsClusterHandle;
  stateDir: string;
  adminToken: string;
  api(
    path: string,
    /** `baseUrl`: another control plane on the same database (a replica, a child process). */
    init?: RequestInit & { token?: string; baseUrl?: string },
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** A new API token with this role (what an admin would hand out); returns its secret. */
  apiToken(role: "admin" | "operator" | "viewer"): Promise<string>;
  /** Uploads bytes as an artifact; returns their sha256. */
  upload(bytes: Uint8Array): Promise<string>;
  /** Uploads each variant's bytes and imports them as one model; returns ids by variant name. */
  importModel(spec: TestModelSpec): Promise<{ modelId: string; variantIds: Map<string, string> }>;
  /** Another control-plane process on the same database, NATS and state (stop it yourself). */
  startReplica(): Promise<ControlPlane>;
  /**
   * A device enrolled over gRPC with a fresh nkey, connected to NATS as itself. With a class,
   * it reports that class's facts and a reference profile (runtime `referenceProfile`) so the
   * planner can plan it; `labels` become its labels.
   */
  enrollDevice(
    name?: string,
    opts?: { deviceClass?: DeviceClassName; labels?: Record<string, string> },
  ): Promise<{
    deviceId: string;
    nc: NatsConnection;
    /** Its credentials, as a thief who copied its creds file would hold them. */
    seed: string;
    publicKey: string;
    jwt: string;
  }>;
  /**
   * A NATS connection with the control plane's own identity (full rights on the fleet account:
   * the JetStream API, every subject), to every node; closed by `stop()` unless you close it first.
   */
  controlPlaneBus(name: string): Promise<NatsConnection>;
  stop(): Promise<void>;
}

export interface TestModelSpec {
  name: string;
  version?: string;
  input?: { name: string; sampleDims: number[] };
  variants: Array<{
    name: string;
    bytes: Uint8Array;
    format?: "onnx" | "packed";
    accuracy?: number;
    kernelType?: "fp32" | "int8" | "int4";
    /** FLOPs per sample the planner predicts from (default 1e6). */
    flops?: number;
    /** The reference latency compression measured (what the console's Pareto plot shows). */
    latencyMs?: { batch1: number; batch64: number };
  }>;
}

export const testFacts: HardwareFactsJson = {
  arch: "x64",
  cores: 2,
  ramTotalBytes: 8 * 2 ** 30,
  ramFreeBytes: 4 * 2 ** 30,
  cpuModel: "test",
  cpuFlags: [],
  accelerators: [],
  os: "linux",
  simulated: false,
  deviceClass: "",
};

export async function startTestControlPlane(
  overrides: Partial<ControlPlaneConfig> = {},
  opts: {
    /** Start the server yourself (e.g. an edge site's hub); `more` adds to the fleet config. */
    nats?: (
      render: (ctx: NatsServerContext, more?: Partial<ServerConfigOptions>) => string,
      auth: FleetAuth,
    ) => Promise<NatsServerHandle>;
    /** A JetStream cluster of this many nodes (same operator config) instead of one server;
     * streams, KV and Object Store at R3 (or fewer replicas on a smaller cluster). */
    natsNodes?: number;
  } = {},
): Promise<TestControlPlane> {
  const db = await createTestDatabase();
  const stateDir = await mkdtemp(join(tmpdir(), "ef-cp-"));
  const auth = await loadOrCreateFleetAuth(stateDir);
  const render = (ctx: NatsServerContext, more: Partial<ServerConfigOptions> = {}) =>
    writeServerConfig(auth, { ...ctx, ...more });
  const cluster = opts.natsNodes
    ? await startNatsCluster(opts.natsNodes, { config: (ctx) => render(ctx) })
    : undefined;
  const nats =
    cluster?.servers[0] ??
    (await (opts.nats ? opts.nats(render, auth) : startNatsServerWithConfig((ctx) => render(ctx))));
  const natsUrls = cluster?.urls ?? [nats.url];
  const config: ControlPlaneConfig = {
    databaseUrl: db.url,
    natsUrl: natsUrls,
    ...(cluster ? { natsReplicas: Math.min(3, cluster.urls.length) } : {}),
    natsAuth: true,
    stateDir,
    httpHost: "127.0.0.1",
    httpPort: 0,
    grpcHost: "127.0.0.1",
    grpcPort: 0,
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: 1000,
    logger: silentLogger,
    telemetryBatch: { maxWaitMs: 20 },
    ...overrides,
  };
  const cp = await startControlPlane(config);
  const adminToken = (await readFile(cp.adminTokenPath, "utf8")).trim();
  /** Connections this fixture opened (devices, control-plane buses): closed by `stop()`. */
  const devices: NatsConnection[] = [];
  const bearer = { authorization: `Bearer ${adminToken}` };
  const upload = async (bytes: Uint8Array) => {
    const sha = createHash("sha256").update(bytes).digest("hex");
    const res = await fetch(`${cp.httpUrl}/api/v1/artifacts/${sha}`, {
      method: "PUT",
      headers: { ...bearer, "content-type": "application/octet-stream" },
      // A copy on a plain ArrayBuffer: what BodyInit takes under the DOM's types as well as Node's
      // (the console's browser tests typecheck this file with both).
      body: new Uint8Array(bytes),
    });
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`upload: HTTP ${res.status} ${await res.text()}`);
    }
    return sha;
  };
  return {
    cp,
    config,
    db,
    nats,
    ...(cluster ? { cluster } : {}),
    stateDir,
    adminToken,
    async api(path, init = {}) {
      const res = await fetch(`${init.baseUrl ?? cp.httpUrl}${path}`, {
        ...init,
        headers: {
          "content-type": "application/json",
          ...(init.token !== "" ? { authorization: `Bearer ${init.token ?? adminToken}` } : {}),
        },
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    upload,
    async apiToken(role) {
      const prisma = createPrisma(db.url);
      try {
        return (await new PrismaApiTokenRepo(prisma).create({ name: `test-${role}`, role })).secret;
      } finally {
        await prisma.$disconnect();
      }
    },
    startReplica: () => startControlPlane({ ...config, httpPort: 0, grpcPort: 0 }),
    async importModel(spec) {
      const variants: ImportModelInput["variants"] = [];
      for (const v of spec.variants) {
        const sha = await upload(v.bytes);
        const kernel = v.kernelType ?? "fp32";
        variants.push({
          name: v.name,
          technique: v.name.split("-")[0] ?? v.name,
          recipe: [],
          artifact: { sha256: sha, bytes: v.bytes.length, format: v.format ?? "onnx" },
          onnxBytes: v.bytes.length,
          params: Math.ceil(v.bytes.length / 4),
          flopsByOp: { MatMul: 1e6 },
          accuracy: v.accuracy ?? 0.9,
          ...(v.latencyMs ? { latencyMs: v.latencyMs } : {}),
          kernels: ["MatMul"],
          cost: { flops: { [kernel]: v.flops ?? 1e6 }, opCount: 4, activationBytes: 4096 },
        });
      }
      const res = await fetch(`${cp.httpUrl}/api/v1/models`, {
        method: "POST",
        headers: { ...bearer, "content-type": "application/json" },
        body: JSON.stringify({
          name: spec.name,
          version: spec.version ?? "1",
          input: spec.input ?? { name: "input", sampleDims: [784] },
          metric: "accuracy",
          variants,
        } satisfies ImportModelInput),
      });
      const body = (await res.json()) as {
        model: { id: string };
        variants: { id: string; name: string }[];
      };
      if (res.status !== 201) throw new Error(`import: HTTP ${res.status} ${JSON.stringify(body)}`);
      return {
        modelId: body.model.id,
        variantIds: new Map(body.variants.map((v) => [v.name, v.id])),
      };
    },
    async enrollDevice(name = "test-device", opts = {}) {
      const created = await fetch(`${cp.httpUrl}/api/v1/enrollment-tokens`, {
        method: "POST",
        headers: { ...bearer, "content-type": "application/json" },
        body: JSON.stringify({ label: "test" }),
      });
      const { token } = (await created.json()) as { token: string };
      const kp = createUser();
      const client = new EnrollmentServiceClient(cp.grpcAddress, credentials.createInsecure());
      const res = await new Promise<{ deviceId: string; userJwt: string }>((resolve, reject) =>
        client.enroll(
          EnrollRequest.fromPartial({
            token,
            publicKey: kp.getPublicKey(),
            name,
            agentVersion: "test",
            facts: opts.deviceClass
              ? simulateFacts(REFERENCE_HOST_FACTS, deviceClass(opts.deviceClass))
              : testFacts,
            labels: opts.labels ?? {},
          }),
          (err, r) => (err ? reject(err) : resolve(r)),
        ),
      );
      client.close();
      const nc = await connectDevice({
        servers: natsUrls,
        deviceId: res.deviceId,
        jwt: res.userJwt,
        seed: kp.getSeed(),
      });
      devices.push(nc);
      if (opts.deviceClass) {
        const profile = referenceProfile(opts.deviceClass, { agentVersion: "test" });
        await jetstream(nc).publish(
          subjects.events(res.deviceId),
          encodeJson({
            type: "profile",
            sentAt: Date.now(),
            agentVersion: "test",
            trigger: "start",
            profile,
          }),
        );
        await until("profile stored", async () => {
          const r = await fetch(`${cp.httpUrl}/api/v1/devices/${res.deviceId}/profile`, {
            headers: bearer,
          });
          return r.status === 200 ? true : undefined;
        });
      }
      const seed = new TextDecoder().decode(kp.getSeed());
      return { deviceId: res.deviceId, nc, seed, publicKey: kp.getPublicKey(), jwt: res.userJwt };
    },
    async controlPlaneBus(name) {
      const nc = await connectBus({
        servers: natsUrls,
        name,
        creds: formatCreds(auth.controlPlane.jwt, auth.controlPlane.seed),
      });
      devices.push(nc);
      return nc;
    },
    async stop() {
      await Promise.all(devices.map((d) => d.close().catch(() => {})));
      await cp.stop();
      await (cluster ?? nats).stop();
      await db.drop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
export { mnistDataset } from "./jobs/datasets";
