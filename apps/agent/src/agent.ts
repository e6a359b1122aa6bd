// The device agent: enroll once (or reuse the stored identity), connect to NATS with the device's
// own JWT, report facts, and send heartbeats until stopped.
import {
  backoffDelay,
  closeBus,
  connectDevice,
  DEFAULT_BACKOFF,
  formatCreds,
} from "@edgefleet/bus";
import { type DeviceEvent, encodeJson, type Heartbeat, subjects } from "@edgefleet/protocol";
import { jetstream } from "@nats-io/jetstream";
import { createUser, fromSeed } from "@nats-io/nkeys";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { DeviceRuntime } from "./device-runtime";
import { enrollWithRetry } from "./enroll-client";
import { type DeviceIdentity, IdentityStore } from "./identity-store";
import { ProfileStamp, type ProfileTrigger, SingleFlight, startTrigger } from "./profiling";
import { serveRpc } from "./rpc-handlers";

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
}

export interface RunningAgent {
  deviceId: string;
  /** true when this start enrolled; false when a stored identity was reused. */
  enrolled: boolean;
  nc: NatsConnection;
  /** Resolves when the profile measurement in progress (if any) has been reported. */
  profiled(): Promise<void>;
  /**
   * Resolves if the connection ends for good without `stop()` (nats.js gives up after repeated
   * authorization errors, e.g. a revoked credential): the process should exit and be restarted.
   */
  lost: Promise<Error | undefined>;
  stop(reason?: string): Promise<void>;
}

export class MissingEnrollmentTokenError extends Error {
  override name = "MissingEnrollmentTokenError";
}

export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  const store = new IdentityStore(config.dataDir);
  const seed = await loadOrCreateSeed(store);
  const stored = await store.loadIdentity();
  const identity = stored ?? (await enroll(config, store, seed));
  const log = config.logger.child({ deviceId: identity.deviceId });
  log.info({ enrolled: !stored }, stored ? "reusing stored identity" : "enrolled");

  const nc = await connectWithRetry(identity, seed, log);
  const publishEvent = async (event: DeviceEvent, timeout = 5_000) => {
    await jetstream(nc).publish(subjects.events(identity.deviceId), encodeJson(event), { timeout });
  };
  const version = config.agentVersion;
  await publishEvent({ type: "started", sentAt: Date.now(), agentVersion: version });
  const facts = await config.runtime.readFacts();
  await publishEvent({ type: "facts", sentAt: Date.now(), agentVersion: version, facts });

  const profiler = new Profiler(config, publishEvent, log);
  const rpc = serveRpc(
    nc,
    identity.deviceId,
    { reprofile: () => profiler.request(), measureLatency: config.runtime.measureLatency },
    log,
  );
  await profiler.onStart();
  const stopBeats = startHeartbeats(nc, identity, version);

  let stopping = false;
  const lost = nc.closed().then((err) => {
    if (stopping) return new Promise<never>(() => {});
    stopBeats();
    log.error({ err }, "connection closed for good");
    return err ?? undefined;
  });

  return {
    deviceId: identity.deviceId,
    enrolled: !stored,
    nc,
    profiled: () => profiler.settled(),
    lost,
    async stop(reason = "shutdown") {
      stopping = true;
      stopBeats();
      for (const sub of rpc) sub.unsubscribe();
      // Best effort and brief: a stop must not hang on a server that is already gone.
      await publishEvent({ type: "stopping", sentAt: Date.now(), reason }, 1_000).catch(() => {});
      await closeBus(nc);
      log.info("agent stopped");
    },
  };
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
  };
  await store.saveIdentity(identity, formatCreds(res.userJwt, seed));
  return identity;
}

/** The first connect retries forever with backoff; later drops are nats.js's reconnect loop. */
async function connectWithRetry(identity: DeviceIdentity, seed: string, log: Logger) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectDevice({
        servers: identity.natsUrls,
        deviceId: identity.deviceId,
        jwt: identity.userJwt,
        seed,
        logger: log,
      });
    } catch (err) {
      const delayMs = backoffDelay(attempt - 1, DEFAULT_BACKOFF, Math.random());
      log.warn({ err: String(err), attempt, delayMs }, "nats connect failed, retrying");
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
