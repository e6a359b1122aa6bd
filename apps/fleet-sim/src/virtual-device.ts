// One virtual device on the wire, as the agent is: its own NATS connection with its own JWT and
// nkey; heartbeats; `started`, `facts` (and a profile once) on its events subject; desired state
// by change notice on `ef.v1.rpc.<id>.desired` plus a direct get of its KV key (at connect, on
// every reconnect, on every notice); state reports; telemetry every interval. What it serves is
// simulated (device-apply.ts, device-telemetry.ts); no model is loaded.
import { Coalescer } from "@edgefleet/agent/coalescer";
import type { DeviceLimits } from "@edgefleet/agent/reconcile-plan";
import { StateReporter } from "@edgefleet/agent/state-reporter";
import {
  type BusLogger,
  backoffDelay,
  closeBus,
  connectDevice,
  DEFAULT_BACKOFF,
  directGetLast,
  kvStreamName,
  readObject,
} from "@edgefleet/bus";
import {
  DESIRED_NOTICE_OP,
  type DeviceEvent,
  decodeJson,
  desiredStateSchema,
  encodeJson,
  type HardwareFactsJson,
  KV_BUCKETS,
  kvSubject,
  type MeasureLatencyReply,
  type ProfileFigures,
  subjects,
} from "@edgefleet/protocol";
import { type DeviceClassSpec, deviceClass } from "@edgefleet/runtime/facts";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { DeviceApply } from "./device-apply";
import { DeviceTelemetry, type ServingInfo } from "./device-telemetry";
import type { SimDevice } from "./fleet-file";
import type { SimulationModel } from "./model";
import { everyWithJitter } from "./pacing";
import { simulatedProfile } from "./profile";
import { Random, seedOf } from "./random";
import { AGENT_VERSION } from "./register";

/** What every device of a fleet shares. */
export interface FleetContext {
  natsUrls: string[];
  heartbeatIntervalMs: number;
  /** 0: no telemetry (a benchmark of the bare connections). */
  telemetryIntervalMs: number;
  artifactPublicKey: string;
  model: SimulationModel;
  /** The run's telemetry epoch (the fleet file's run counter). */
  epoch: number;
  /** Really download artifacts and canary sets (and check their sha256). */
  download: boolean;
  seed: number;
  facts(spec: DeviceClassSpec): HardwareFactsJson;
  hostFigures?: ProfileFigures;
  /** Device-level problems (connect failures) log here. */
  log: BusLogger;
  /** What nats.js connections log (thousands of them: a quiet one). */
  connectionLog: BusLogger;
  /** Desired state is re-read this often besides notices (default 5 min, as the agent). */
  desiredPollMs?: number;
}

export class VirtualDevice {
  readonly id: string;
  readonly name: string;
  readonly deviceClass: string;
  readonly spec: DeviceClassSpec;
  readonly apply: DeviceApply;
  readonly telemetry: DeviceTelemetry;
  private readonly random: Random;
  private readonly reporter: StateReporter;
  private readonly reads = new Coalescer(() => this.readDesired());
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private subs: Subscription[] = [];
  private timers: Array<() => void> = [];
  private startedAt = Date.now();
  private beatSeq = 0;
  private stopping = false;
  connected = false;
  connects = 0;
  disconnects = 0;
  heartbeats = 0;
  events = 0;
  eventFailures = 0;
  desiredReads = 0;
  /** Set once a profile was published (the fleet file keeps it). */
  profiled: boolean;

  constructor(
    readonly sim: SimDevice,
    private readonly ctx: FleetContext,
  ) {
    this.id = sim.id;
    this.name = sim.name;
    this.deviceClass = sim.deviceClass;
    this.profiled = sim.profiled;
    this.spec = deviceClass(sim.deviceClass);
    this.random = new Random(seedOf(sim.id, ctx.seed));
    this.reporter = new StateReporter((r) => this.publishEvent(r));
    this.apply = new DeviceApply({
      deviceId: this.id,
      deviceClass: this.deviceClass,
      limits: limitsOf(this.spec),
      model: ctx.model,
      random: this.random,
      pinnedKey: ctx.artifactPublicKey,
      download: ctx.download
        ? async (digest, onChunk) => {
            await readObject(this.requireNc(), digest, { onChunk });
          }
        : undefined,
      report: (r) => this.reporter.report(r),
    });
    this.telemetry = new DeviceTelemetry({
      deviceId: this.id,
      deviceClass: this.deviceClass,
      epoch: ctx.epoch,
      model: ctx.model,
      random: this.random,
      serving: () => this.servingInfo(),
      publish: async (data, msgID) => {
        await this.requireJs().publish(subjects.telemetry(this.id), data, {
          msgID,
          timeout: 5_000,
        });
      },
    });
  }

  get load(): number {
    return this.telemetry.load;
  }

  setLoad(factor: number): void {
    this.telemetry.setLoad(factor);
  }

  /**
   * One connect attempt; on failure retries in the background with the agent's backoff (so a
   * fleet start does not wait for devices that cannot get in). Resolves true when connected now.
   */
  async start(): Promise<boolean> {
    if (this.ctx.telemetryIntervalMs > 0) {
      this.timers.push(
        everyWithJitter(
          this.ctx.telemetryIntervalMs,
          () => this.telemetry.close(),
          () => this.random.next(),
        ),
      );
    }
    return this.connectOnce(0);
  }

  private async connectOnce(attempt: number): Promise<boolean> {
    if (this.stopping) return false;
    try {
      const nc = await connectDevice({
        servers: this.ctx.natsUrls,
        deviceId: this.id,
        jwt: this.sim.jwt,
        seed: this.sim.seed,
        publicKey: this.sim.publicKey,
        logger: this.ctx.connectionLog,
      });
      if (this.stopping) {
        await nc.close();
        return false;
      }
      this.onConnected(nc);
      return true;
    } catch (err) {
      if (attempt === 0)
        this.ctx.log.warn({ deviceId: this.id, err: String(err) }, "connect failed, retrying");
      const delay = backoffDelay(attempt, DEFAULT_BACKOFF, this.random.next());
      const t = setTimeout(() => void this.connectOnce(attempt + 1), delay);
      this.timers.push(() => clearTimeout(t));
      return false;
    }
  }

  private onConnected(nc: NatsConnection): void {
    this.nc = nc;
    this.js = jetstream(nc);
    this.connects++;
    this.setConnected(true);
    this.subs = [
      nc.subscribe(subjects.rpc(this.id, DESIRED_NOTICE_OP), {
        callback: () => void this.reads.run(),
      }),
      nc.subscribe(subjects.rpc(this.id, "profile"), {
        callback: (_err, msg) => {
          msg.respond(encodeJson({ accepted: true }));
          void this.publishProfile("request");
        },
      }),
      nc.subscribe(subjects.rpc(this.id, "measure-latency"), {
        callback: (_err, msg) => this.answerMeasure(msg),
      }),
    ];
    void this.watch(nc);
    this.timers.push(this.startHeartbeats());
    const poll = setInterval(
      () => void this.reads.run(),
      (this.ctx.desiredPollMs ?? 300_000) * (0.75 + this.random.next() / 2),
    );
    this.timers.push(() => clearInterval(poll));
    void (async () => {
      await this.publishEventCounted({
        type: "started",
        sentAt: Date.now(),
        agentVersion: AGENT_VERSION,
      });
      const facts = this.ctx.facts(this.spec);
      await this.publishEventCounted({
        type: "facts",
        sentAt: Date.now(),
        agentVersion: AGENT_VERSION,
        facts,
      });
      if (!this.profiled) await this.publishProfile("start");
    })();
    void this.reads.run();
  }

  private setConnected(up: boolean): void {
    this.connected = up;
    this.reporter.setConnected(up);
    this.telemetry.setConnected(up);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        this.disconnects++;
        this.setConnected(false);
      } else if (s.type === "reconnect") {
        this.setConnected(true);
        void this.reads.run();
      }
    }
    this.setConnected(false);
  }

  /** Core-NATS beats, the first at once (the control plane marks the device online). */
  private startHeartbeats(): () => void {
    const beat = () => {
      const nc = this.nc;
      if (!nc || nc.isClosed()) return;
      nc.publish(
        subjects.heartbeat(this.id),
        encodeJson({
          seq: this.beatSeq++,
          sentAt: Date.now(),
          agentVersion: AGENT_VERSION,
          uptimeS: (Date.now() - this.startedAt) / 1000,
        }),
      );
      this.heartbeats++;
    };
    beat();
    return everyWithJitter(this.ctx.heartbeatIntervalMs, beat, () => this.random.next());
  }

  private async readDesired(): Promise<void> {
    const nc = this.nc;
    if (!nc || nc.isClosed()) return;
    try {
      const m = await directGetLast(
        nc,
        kvStreamName(KV_BUCKETS.desired),
        kvSubject(KV_BUCKETS.desired, this.id),
      );
      this.desiredReads++;
      if (!m || m.data.length === 0) return;
      this.apply.offer(decodeJson(desiredStateSchema, m.data));
    } catch (err) {
      this.ctx.log.debug({ deviceId: this.id, err: String(err) }, "desired state not read");
    }
  }

  private servingInfo(): ServingInfo | null {
    const s = this.apply.serving;
    if (!s) return null;
    const shadow =
      this.apply.desired?.generation === s.generation
        ? this.apply.desired.assignment?.shadow
        : null;
    return {
      variantId: s.manifest.variant.id,
      variantName: s.manifest.variant.name,
      kernelType: s.manifest.runtime.kernelType,
      generation: s.generation,
      memoryBytes: s.manifest.runtime.memoryBytes,
      shadowSampleRate: shadow && this.apply.previous ? shadow.sampleRate : null,
    };
  }

  private async publishProfile(trigger: "start" | "request"): Promise<void> {
    const profile = simulatedProfile(this.ctx.facts(this.spec), this.spec, this.ctx.hostFigures);
    const ok = await this.publishEventCounted({
      type: "profile",
      sentAt: Date.now(),
      agentVersion: AGENT_VERSION,
      trigger,
      profile,
    });
    if (ok) this.profiled = true;
  }

  /** Simulated figures from the latency model (the model in the payload is not run). */
  private answerMeasure(msg: Msg): void {
    const variantId = msg.headers?.get("variantId") ?? "";
    const batch = Math.max(1, Number(msg.headers?.get("batch")) || 1);
    const known = [this.apply.serving, this.apply.previous].find(
      (i) => i?.manifest.variant.id === variantId,
    );
    const name = known?.manifest.variant.name ?? "*";
    const kernel = known?.manifest.runtime.kernelType ?? "fp32";
    const factor = this.ctx.model.latencyFactor(this.deviceClass, kernel);
    let reply: MeasureLatencyReply;
    if (factor === null) {
      reply = {
        ok: false,
        error: `simulated class ${this.deviceClass} cannot run ${kernel} kernels`,
      };
    } else {
      const median =
        this.ctx.model.medianLatencyMs(this.deviceClass, name, kernel, this.load) *
        this.ctx.model.runShare;
      const figures = (ms: number) => ({ bestMs: ms * 0.9, medianMs: ms, p90Ms: ms * 1.3 });
      reply = {
        ok: true,
        variantId,
        threads: this.spec.cores,
        simulated: true,
        deviceClass: this.deviceClass,
        batch1: figures(median),
        batchN: { ...figures(median * batch ** 0.75), batch },
      };
    }
    msg.respond(encodeJson(reply));
  }

  private async publishEvent(event: DeviceEvent, timeout = 5_000): Promise<void> {
    await this.requireJs().publish(subjects.events(this.id), encodeJson(event), { timeout });
  }

  private async publishEventCounted(event: DeviceEvent): Promise<boolean> {
    try {
      await this.publishEvent(event);
      this.events++;
      return true;
    } catch (err) {
      this.eventFailures++;
      this.ctx.log.debug(
        { deviceId: this.id, type: event.type, err: String(err) },
        "event not published",
      );
      return false;
    }
  }

  private requireNc(): NatsConnection {
    if (!this.nc || this.nc.isClosed()) throw new Error("not connected to NATS");
    return this.nc;
  }

  private requireJs(): JetStreamClient {
    if (!this.js || !this.nc || this.nc.isClosed()) throw new Error("not connected to NATS");
    return this.js;
  }

  async stop(reason = "fleet-sim stopped"): Promise<void> {
    this.stopping = true;
    for (const stop of this.timers.splice(0)) stop();
    this.apply.stop();
    for (const sub of this.subs.splice(0)) sub.unsubscribe();
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      await this.publishEvent({ type: "stopping", sentAt: Date.now(), reason }, 1_000).catch(
        () => {},
      );
      await closeBus(nc);
    }
    this.setConnected(false);
  }
}

/** What the class can run, as the agent states it for a simulated class. */
function limitsOf(spec: DeviceClassSpec): DeviceLimits {
  const missing = Object.entries(spec.computeSlowdown)
    .filter(([, factor]) => factor === null)
    .map(([kernel]) => kernel);
  return { unsupportedKernels: new Set(missing), memoryBudgetBytes: spec.memoryCapBytes };
}
