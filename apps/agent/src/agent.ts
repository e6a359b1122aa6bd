// The device agent: enroll once (or reuse the stored identity), serve the stored variant from the
// local cache at once (no network needed), open the local inference API, then connect to NATS
// with the device's own JWT in the background: report facts, fetch and reconcile desired state,
// send heartbeats, telemetry and state reports, and answer control-plane requests.
import { totalmem } from "node:os";
import {
  backoffDelay,
  closeBus,
  connectDevice,
  DEFAULT_BACKOFF,
  directGetLast,
  formatCreds,
  kvStreamName,
  readObject,
} from "@edgefleet/bus";
import {
  type DeviceEvent,
  decodeJson,
  desiredStateSchema,
  encodeJson,
  type Heartbeat,
  KV_BUCKETS,
  kvSubject,
  subjects,
} from "@edgefleet/protocol";
import { jetstream } from "@nats-io/jetstream";
import { createUser, fromSeed } from "@nats-io/nkeys";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { DeviceCalibrator } from "./calibration/device-calibrator";
import type { LocalDatasetSpec } from "./calibration/local-dataset";
import { Coalescer } from "./coalescer";
import { CredentialRenewer } from "./credential-renewer";
import type { DeviceRuntime } from "./device-runtime";
import { type DeviceIdentity, IdentityStore } from "./identity-store";
import { JobModels } from "./jobs/job-models";
import { JobWorker, type JobWorkerDeps } from "./jobs/job-worker";
import { StageRunner } from "./pipeline/stage-runner";
import { ProfileStamp, type ProfileTrigger, SingleFlight, startTrigger } from "./profiling";
import { type FetchArtifact, LocalStore } from "./reconcile/local-store";
import type { DeviceLimits } from "./reconcile/plan";
import { Reconciler } from "./reconcile/reconciler";
import { serveRpc } from "./rpc-handlers";
import {
  type InferenceRuntime,
  ModelSlot,
  ortRuntime,
  type RunningGrpcApi,
  type RunningHttpApi,
  ServingMetrics,
  type ServingObserver,
  startHttpApi,
} from "./serving";
import { StateReporter } from "./state-reporter";
import { nextTelemetryEpoch, TelemetryPublisher } from "./telemetry-publisher";

export interface LocalApiConfig {
  /** Loopback by default: the API is for applications on the device. */
  host: string;
  /** 0: an ephemeral port. */
  httpPort: number;
  /** undefined: no gRPC API. */
  grpcPort?: number;
}

export interface AgentConfig {
  dataDir: string;
  /** host:port of the control plane's gRPC endpoint, for enrollment. */
  controlPlaneGrpc: string;
  /** Needed only when the data dir holds no identity yet. */
  enrollmentToken?: string;
  name: string;
  labels: Record<string, string>;
  agentVersion: string;
  /** Facts, profile and latency measurement of this device (or the class it simulates). */
  runtime: DeviceRuntime;
  logger: Logger;
  localApi?: LocalApiConfig;
  /** How often a telemetry window closes (default 5 s). */
  telemetryIntervalMs?: number;
  /** Bytes the local artifact cache may hold (default 1 GiB). */
  cacheBudgetBytes?: number;
  /** Safety net besides change notices: re-read desired state this often (default 5 min). */
  desiredPollMs?: number;
  /** What loads and runs models (default ONNX Runtime, imported on the first load). */
  inference?: InferenceRuntime;
  /** More observers of local serving besides telemetry and /metrics (embedders, tests). */
  observers?: ServingObserver[];
  /** Observes each job shard this device runs (tests, benchmarks). */
  onJobShard?: JobWorkerDeps["onShard"];
  /** Local data for federated calibration (CALIBRATION_DATA); it never leaves the device. */
  calibrationData?: LocalDatasetSpec;
  /** Where NATS is, when not where enrollment said (an edge site's leaf-node server). */
  nats?: AgentNatsConfig;
}

/** Edge sites (issue 11): devices at a site talk to its leaf server and read in named domains. */
export interface AgentNatsConfig {
  /** Servers to use instead of those handed out at enrollment: a cluster's nodes (the agent
   * fails over between them), or a site's leaf server(s). Empty: enrollment's. */
  urls?: string[];
  /** JetStream domain of the artifacts (the site's mirror); default the local one. */
  artifactDomain?: string;
  /** JetStream domain of the desired-state KV (the hub's); default the local one. */
  desiredDomain?: string;
}

export interface RunningAgent {
  deviceId: string;
  /** true when this start enrolled; false when a stored identity was reused. */
  enrolled: boolean;
  /** Resolves with the NATS connection once the first connect succeeds (it retries forever). */
  connected: Promise<NatsConnection>;
  /** The connection, once there is one. */
  readonly nc: NatsConnection | undefined;
  /** The local HTTP inference API, e.g. http://127.0.0.1:8471 (undefined when disabled). */
  localUrl: string | undefined;
  /** host:port of the local gRPC inference API (undefined when disabled). */
  localGrpc: string | undefined;
  reconciler: Reconciler;
  telemetry: TelemetryPublisher;
  /** Pulls and runs shards of the batch jobs this device belongs to. */
  jobs: JobWorker;
  /** Pipeline-split inference stages on this device (once connected). */
  readonly stages: StageRunner | undefined;
  /** Resolves when the profile measurement in progress (if any) has been reported. */
  profiled(): Promise<void>;
  /** Renews the device's NATS user JWT before it expires (issue 11). */
  credentials: CredentialRenewer;
  /**
   * Resolves if the connection ends for good without `stop()` (nats.js gives up after repeated
   * authorization errors, e.g. a revoked credential): the process should exit and be restarted.
   */
  lost: Promise<Error | undefined>;
  stop(reason?: string): Promise<void>;
}

/** Direct gets of the desired key fail for a few seconds while a KV leader is elected. */
const DESIRED_READ_BACKOFF = { baseMs: 250, maxMs: 5_000 };

export class MissingEnrollmentTokenError extends Error {
  override name = "MissingEnrollmentTokenError";
}

export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  const identityStore = new IdentityStore(config.dataDir);
  const seed = await loadOrCreateSeed(identityStore);
  const stored = await identityStore.loadIdentity();
  const identity = stored ?? (await enroll(config, identityStore, seed));
  const { deviceId } = identity;
  const log = config.logger.child({ deviceId });
  log.info({ enrolled: !stored }, stored ? "reusing stored identity" : "enrolled");
  if (!identity.artifactPublicKey) {
    log.warn(
      "no artifact signing key pinned (enrolled by an older control plane): assignments will be refused",
    );
  }

  let nc: NatsConnection | undefined;
  // Credentials (issue 11): the JWT is renewed before it expires; the connection reads the
  // current one at every (re)connect.
  let renewClient: import("@edgefleet/protocol/grpc").EnrollmentServiceClient | undefined;
  const renewer = new CredentialRenewer({
    identity,
    seed,
    store: identityStore,
    renew: async (req) => {
      const { callRenew, enrollmentClient } = await import("./enroll-client");
      renewClient ??= enrollmentClient(config.controlPlaneGrpc);
      return callRenew(renewClient, { ...req, signature: Buffer.from(req.signature) });
    },
    onRenewed: () => {
      if (nc && !nc.isClosed()) {
        nc.reconnect().catch((err) => log.warn({ err: String(err) }, "reconnect after renewal"));
      }
    },
    // Decommissioned: nothing more to say to the fleet; closing ends `lost` (main exits).
    onRefused: () => {
      if (nc && !nc.isClosed()) void nc.close();
    },
    log: log.child({ component: "credentials" }),
  });
  renewer.start();
  const js = () => {
    if (!nc || nc.isClosed()) throw new Error("not connected to NATS");
    return jetstream(nc);
  };

  // Serving first: a device that restarts while offline answers with its last variant.
  const spec = config.runtime.spec;
  const epoch = await nextTelemetryEpoch(config.dataDir);
  let reconciler: Reconciler | undefined;
  const telemetry = new TelemetryPublisher({
    deviceId,
    epoch,
    intervalMs: config.telemetryIntervalMs ?? 5_000,
    serving: () => {
      const s = reconciler?.serving;
      return s ? { variantId: s.manifest.variant.id, generation: s.generation } : null;
    },
    simulated: spec !== undefined,
    deviceClass: spec?.name ?? "",
    publish: async (data, msgID) => {
      await js().publish(subjects.telemetry(deviceId), data, { msgID, timeout: 5_000 });
    },
    log,
  });
  const metrics = new ServingMetrics();
  const slot = new ModelSlot({
    observer: fanOut(telemetry, metrics.observer, ...(config.observers ?? [])),
    onRunFailure: (f) => reconciler?.onRunFailure(f),
    // The old variant's failures say nothing about the one serving (never counted against it);
    // /metrics counts them (edgefleet_shadow_skipped_total{reason="failed"}).
    onShadowError: (err, shadow) =>
      log.debug({ err: String(err), shadow: shadow.variantName }, "shadow run failed"),
  });
  const reporter = new StateReporter(async (report) => {
    await js().publish(subjects.events(deviceId), encodeJson(report), { timeout: 5_000 });
  });
  const store = new LocalStore(config.dataDir, config.cacheBudgetBytes ?? 2 ** 30);
  const opened = await store.open();
  const inference = config.inference ?? ortRuntime();
  const fetchArtifact: FetchArtifact = async (digest, onChunk, from) => {
    if (!nc || nc.isClosed()) throw new Error("not connected to NATS");
    await readObject(nc, digest, {
      domain: config.nats?.artifactDomain,
      onChunk,
      ...(from ? { resume: from.point, onRestart: from.restart } : {}),
    });
  };
  const slowdownFor = (kernel: string) =>
    spec?.computeSlowdown[kernel as keyof typeof spec.computeSlowdown] ?? 1;
  if (opened.damaged)
    log.warn({ movedTo: opened.damaged }, "local state was damaged; starting empty");
  reconciler = new Reconciler(
    {
      deviceId,
      store,
      slot,
      runtime: inference,
      pinnedKey: identity.artifactPublicKey,
      limits: deviceLimits(spec),
      defaultThreads: config.runtime.threads,
      slowdownFor,
      fetchArtifact,
      report: (r) => reporter.report(r),
      log: log.child({ component: "reconcile" }),
    },
    opened.state,
  );
  await reconciler.restore();
  telemetry.start();
  const jobs = jobWorker(deviceId, config, log, () => nc, {
    store,
    runtime: inference,
    pinnedKey: identity.artifactPublicKey,
    defaultThreads: config.runtime.threads,
    slowdownFor,
    fetchArtifact,
    serving: () => reconciler.serving,
    keep: () => {
      const s = reconciler.serving?.manifest.digest;
      return new Set(s ? [s] : []);
    },
  });
  // Federated calibration (issue 9): its code (the quantizer's passes, MNIST) loads on first use.
  let calibrator: Promise<DeviceCalibrator> | undefined;
  const calibrate = (request: unknown) => {
    calibrator ??= import("./calibration/device-calibrator").then(
      ({ DeviceCalibrator }) =>
        new DeviceCalibrator({
          dataset: config.calibrationData,
          pinnedKey: identity.artifactPublicKey,
          store,
          keep: () =>
            new Set(
              [
                reconciler?.serving?.manifest.digest,
                reconciler?.desired?.assignment?.manifest.digest,
              ].filter((d): d is string => d !== undefined),
            ),
          fetchArtifact,
          threads: config.runtime.threads,
          log: log.child({ component: "calibration" }),
        }),
    );
    return calibrator.then((c) => c.answer(request));
  };

  const api = config.localApi;
  let http: RunningHttpApi | undefined;
  let grpc: RunningGrpcApi | undefined;
  if (api) {
    http = await startHttpApi({ slot, host: api.host, port: api.httpPort, metrics });
    if (api.grpcPort !== undefined) {
      // grpc-js (~2.5 MB of heap) is loaded only when the local gRPC API is on.
      const { startGrpcApi } = await import("./serving/grpc-api");
      grpc = await startGrpcApi({ slot, host: api.host, port: api.grpcPort });
    }
  }

  const version = config.agentVersion;
  const publishEvent = async (event: DeviceEvent, timeout = 5_000) => {
    await js().publish(subjects.events(deviceId), encodeJson(event), { timeout });
  };
  const profiler = new Profiler(config, publishEvent, log);
  let stopping = false;
  // A notice arriving while a read is under way gets a read of its own after it (the running one
  // may have read the key before the write the notice announces).
  // A read that fails while connected (the KV leader lost with its node: direct gets time out
  // until another replica answers) is tried again with backoff: the notice it answers is gone.
  const desiredReads = new Coalescer(async () => {
    const m = await readDesiredKey();
    if (!m || m.data.length === 0) return;
    try {
      const desired = decodeJson(desiredStateSchema, m.data);
      if (await reconciler.offer(desired)) {
        log.info({ generation: desired.generation }, "new desired state");
      }
    } catch (err) {
      log.warn({ err: String(err) }, "desired state refused");
    }
  });
  const readDesiredKey = async () => {
    for (let attempt = 0; nc && !nc.isClosed() && !stopping; attempt++) {
      try {
        return await directGetLast(
          nc,
          kvStreamName(KV_BUCKETS.desired),
          kvSubject(KV_BUCKETS.desired, deviceId),
          undefined,
          config.nats?.desiredDomain,
        );
      } catch (err) {
        const delayMs = backoffDelay(attempt, DESIRED_READ_BACKOFF, Math.random());
        log.warn({ err: String(err), attempt, delayMs }, "desired state not read, retrying");
        await new Promise((r) => setTimeout(r, delayMs).unref());
      }
    }
    return null;
  };
  const fetchDesired = () => desiredReads.run();

  /** false while nats.js is reconnecting: a stop then closes at once (a drain would wait). */
  let linkUp = true;
  let stopBeats = () => {};
  let rpc: ReturnType<typeof serveRpc> = [];
  let poll: NodeJS.Timeout | undefined;
  let stages: StageRunner | undefined;
  const natsUrls = config.nats?.urls?.length ? config.nats.urls : identity.natsUrls;
  const connected = connectWithRetry(
    natsUrls,
    identity,
    () => renewer.userJwt,
    seed,
    log,
    () => stopping,
  ).then(async (conn) => {
    nc = conn;
    // Pipeline-split inference (issue 9): stages assigned over rpc, activations over peer subjects.
    stages = new StageRunner({
      nc: conn,
      deviceId,
      runtime: inference,
      pinnedKey: identity.artifactPublicKey,
      memoryBudgetBytes: deviceLimits(spec).memoryBudgetBytes,
      threads: config.runtime.threads,
      slowdownFor,
      fetchArtifact,
      store,
      keep: () => new Set([reconciler?.serving?.manifest.digest].filter((d) => d !== undefined)),
      log: log.child({ component: "pipeline" }),
    });
    stages.start();
    rpc = serveRpc(
      conn,
      deviceId,
      {
        reprofile: () => profiler.request(),
        measureLatency: config.runtime.measureLatency,
        desiredChanged: () => void fetchDesired(),
        jobNotice: (jobId) => jobs.notice(jobId),
        calibrate,
      },
      log,
    );
    reporter.setConnected(true);
    telemetry.setConnected(true);
    void watchConnection(conn, {
      up: () => {
        linkUp = true;
        reporter.setConnected(true);
        telemetry.setConnected(true);
        reconciler.networkUp();
        void fetchDesired();
      },
      down: () => {
        linkUp = false;
        reporter.setConnected(false);
        telemetry.setConnected(false);
      },
      // Expired while the control plane was out of reach (or revoked): renew now, not later.
      credentialsRefused: () => renewer.renewNow(),
    });
    stopBeats = startHeartbeats(conn, identity, version);
    const pollMs = config.desiredPollMs ?? 300_000;
    poll = setInterval(() => void fetchDesired(), pollMs * (0.75 + Math.random() / 2));
    poll.unref();
    void (async () => {
      try {
        await publishEvent({ type: "started", sentAt: Date.now(), agentVersion: version });
        const facts = await config.runtime.readFacts();
        await publishEvent({ type: "facts", sentAt: Date.now(), agentVersion: version, facts });
      } catch (err) {
        log.warn({ err: String(err) }, "start events not published");
      }
      await profiler.onStart();
    })();
    reconciler.networkUp();
    await fetchDesired();
    return conn;
  });

  const lost = connected.then((conn) =>
    conn.closed().then((err) => {
      if (stopping) return new Promise<never>(() => {});
      stopBeats();
      log.error({ err }, "connection closed for good");
      return err ?? undefined;
    }),
  );

  return {
    deviceId,
    enrolled: !stored,
    connected,
    get nc() {
      return nc;
    },
    localUrl: http?.url,
    localGrpc: grpc?.address,
    reconciler,
    telemetry,
    jobs,
    get stages() {
      return stages;
    },
    profiled: () => profiler.settled(),
    credentials: renewer,
    lost,
    async stop(reason = "shutdown") {
      stopping = true;
      renewer.stop();
      renewClient?.close();
      clearInterval(poll);
      stopBeats();
      reconciler.stop();
      for (const sub of rpc) sub.unsubscribe();
      await jobs.stop();
      await stages?.stop();
      await telemetry.stop();
      if (nc && !nc.isClosed() && linkUp) {
        // Best effort and brief: a stop must not hang on a server that is already gone.
        await publishEvent({ type: "stopping", sentAt: Date.now(), reason }, 1_000).catch(() => {});
        await closeBus(nc);
      } else if (nc && !nc.isClosed()) {
        // Offline: nothing buffered can be delivered, and draining would wait for the server.
        await nc.close();
      }
      reporter.setConnected(false);
      await http?.close();
      await grpc?.close();
      await slot.unload().released;
      log.info("agent stopped");
    },
  };
}

function jobWorker(
  deviceId: string,
  config: AgentConfig,
  log: Logger,
  conn: () => NatsConnection | undefined,
  models: ConstructorParameters<typeof JobModels>[0],
): JobWorker {
  const live = () => {
    const nc = conn();
    if (!nc || nc.isClosed()) throw new Error("not connected to NATS");
    return nc;
  };
  return new JobWorker({
    deviceId,
    request: async (subject, timeout) =>
      (await live().request(subject, undefined, { timeout })).data,
    publish: async (subject, data, msgID) => {
      await jetstream(live()).publish(subject, data, { msgID, timeout: 5_000 });
    },
    signal: (subject, data) => live().publish(subject, data),
    models: new JobModels(models),
    log: log.child({ component: "jobs" }),
    onShard: config.onJobShard,
  });
}

/** What this device can run: a simulated class lacks kernels and memory; a real one has its RAM. */
function deviceLimits(spec: DeviceRuntime["spec"]): DeviceLimits {
  if (!spec) return { unsupportedKernels: new Set(), memoryBudgetBytes: totalmem() };
  const missing = Object.entries(spec.computeSlowdown)
    .filter(([, factor]) => factor === null)
    .map(([kernel]) => kernel);
  return { unsupportedKernels: new Set(missing), memoryBudgetBytes: spec.memoryCapBytes };
}

function fanOut(...observers: ServingObserver[]): ServingObserver {
  return {
    onRequest: (ms, outcome) => {
      for (const o of observers) o.onRequest(ms, outcome);
    },
    onRun: (batch, ms) => {
      for (const o of observers) o.onRun(batch, ms);
    },
    onQueueDepth: (depth) => {
      for (const o of observers) o.onQueueDepth(depth);
    },
    onSwap: (current, previous) => {
      for (const o of observers) o.onSwap?.(current, previous);
    },
    onShadow: (agreed) => {
      for (const o of observers) o.onShadow?.(agreed);
    },
    onShadowSkipped: (reason) => {
      for (const o of observers) o.onShadowSkipped?.(reason);
    },
  };
}

async function watchConnection(
  nc: NatsConnection,
  on: { up(): void; down(): void; credentialsRefused(): void },
) {
  for await (const s of nc.status()) {
    if (s.type === "disconnect") on.down();
    else if (s.type === "reconnect") on.up();
    else if (s.type === "error" && /authentication expired|authorization/i.test(String(s.error)))
      on.credentialsRefused();
  }
}

/** Measures and reports profiles, one at a time, and stamps what the last one was measured on. */
class Profiler {
  private readonly flight = new SingleFlight<void>();
  private readonly stamp: ProfileStamp;

  constructor(
    private readonly config: AgentConfig,
    private readonly publish: (event: DeviceEvent) => Promise<void>,
    private readonly log: Logger,
  ) {
    this.stamp = new ProfileStamp(config.dataDir);
  }

  /** Re-profiles at start when the stored profile no longer describes this agent. */
  async onStart(): Promise<void> {
    const trigger = startTrigger(await this.stamp.read(), {
      agentVersion: this.config.agentVersion,
      threads: this.config.runtime.threads,
      simulatedClass: this.config.runtime.simulatedClass,
      now: Date.now(),
    });
    if (trigger) void this.report(trigger);
  }

  /** An operator's request; false when it joined a measurement already running. */
  request(): boolean {
    const idle = !this.flight.busy;
    void this.report("request");
    return idle;
  }

  settled(): Promise<void> {
    return this.flight.run(async () => {});
  }

  private report(trigger: ProfileTrigger): Promise<void> {
    return this.flight.run(async () => {
      try {
        const profile = await this.config.runtime.measureProfile();
        const agentVersion = this.config.agentVersion;
        await this.publish({ type: "profile", sentAt: Date.now(), agentVersion, trigger, profile });
        const { threads, deviceClass, measuredAt } = profile;
        await this.stamp.write({ agentVersion, threads, deviceClass, measuredAt });
        this.log.info({ trigger, ms: Math.round(profile.durationMs) }, "profile reported");
      } catch (err) {
        this.log.warn({ err, trigger }, "profiling failed");
      }
    });
  }
}

/** Core-NATS beats: while disconnected nats.js buffers them and sends on reconnect. */
function startHeartbeats(nc: NatsConnection, identity: DeviceIdentity, agentVersion: string) {
  const startedAt = Date.now();
  let seq = 0;
  const beat = () => {
    if (nc.isClosed()) return stop();
    const hb: Heartbeat = {
      seq: seq++,
      sentAt: Date.now(),
      agentVersion,
      uptimeS: (Date.now() - startedAt) / 1000,
    };
    nc.publish(subjects.heartbeat(identity.deviceId), encodeJson(hb));
  };
  const timer = setInterval(beat, identity.heartbeatIntervalMs);
  const stop = () => clearInterval(timer);
  beat();
  return stop;
}

async function loadOrCreateSeed(store: IdentityStore): Promise<string> {
  const existing = await store.loadSeed();
  if (existing) return existing.trim();
  const seed = new TextDecoder().decode(createUser().getSeed());
  await store.saveSeed(seed);
  return seed;
}

async function enroll(config: AgentConfig, store: IdentityStore, seed: string) {
  if (!config.enrollmentToken) {
    throw new MissingEnrollmentTokenError(
      `no identity in ${config.dataDir} and no enrollment token given (ENROLLMENT_TOKEN)`,
    );
  }
  const publicKey = fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  // Enrollment happens once per device: its gRPC client is loaded only then.
  const { enrollWithRetry } = await import("./enroll-client");
  const res = await enrollWithRetry(
    {
      token: config.enrollmentToken,
      publicKey,
      name: config.name,
      agentVersion: config.agentVersion,
      facts: await config.runtime.readFacts(),
      labels: config.labels,
    },
    {
      address: config.controlPlaneGrpc,
      onRetry: (attempt, delayMs, err) =>
        config.logger.warn({ attempt, delayMs, code: err.code }, "enrollment retry"),
    },
  );
  const identity: DeviceIdentity = {
    deviceId: res.deviceId,
    publicKey,
    natsUrls: res.natsUrls,
    userJwt: res.userJwt,
    heartbeatIntervalMs: res.heartbeatIntervalMs,
    enrolledAt: new Date().toISOString(),
    ...(res.artifactPublicKey ? { artifactPublicKey: res.artifactPublicKey } : {}),
  };
  await store.saveIdentity(identity, formatCreds(res.userJwt, seed));
  return identity;
}

/** The first connect retries forever with backoff (until stopped); later drops are nats.js's. */
async function connectWithRetry(
  servers: string[],
  identity: Pick<DeviceIdentity, "deviceId">,
  jwt: () => string,
  seed: string,
  log: Logger,
  stopped: () => boolean,
): Promise<NatsConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectDevice({
        servers,
        deviceId: identity.deviceId,
        jwt,
        seed,
        logger: log,
      });
    } catch (err) {
      if (stopped()) throw err;
      const delayMs = backoffDelay(attempt - 1, DEFAULT_BACKOFF, Math.random());
      log.warn({ err: String(err), attempt, delayMs }, "nats connect failed, retrying");
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
