// A simulated fleet in one process: the fleet file is loaded (or created), devices it lacks are
// registered, every device connects with its own credentials (paced), and the handle lets tests
// and benchmarks change co-tenant load, read stats and stop.
import type { BusLogger } from "@edgefleet/bus";
import type { ProfileFigures } from "@edgefleet/protocol";
import { type DeviceClassSpec, deviceClass, readHardwareFacts } from "@edgefleet/runtime/facts";
import { type ClassMix, dealClasses, parseClassMix } from "./class-mix";
import { type FleetFile, loadFleetFile, saveFleetFile } from "./fleet-file";
import { SimulationModel, type SimulationModelConfig } from "./model";
import { mapLimit } from "./pacing";
import { simulatedFacts } from "./profile";
import { Random } from "./random";
import { issuedBy, type Registration, RegistrationError, register } from "./register";
import { type FleetContext, VirtualDevice } from "./virtual-device";

export const DEFAULT_CLASS_MIX = "rpi4:0.4,jetson-nano:0.3,x86-gateway:0.3";

export interface FleetOptions {
  /** How many devices to run (the first ones of the fleet file; missing ones are registered). */
  devices: number;
  /** Where the fleet (ids, seeds, JWTs) is kept between runs. */
  fleetFile: string;
  /** How devices the file lacks are registered; needed only when it lacks some. */
  registration?: Registration;
  /** Classes of newly registered devices (default rpi4:0.4,jetson-nano:0.3,x86-gateway:0.3). */
  classMix?: ClassMix | string;
  /** Names of new devices: `<prefix>-<nnnnn>` (default "sim"). */
  namePrefix?: string;
  /** Labels of new devices, besides `sim=fleet-sim` and `class=<class>`. */
  labels?: Record<string, string>;
  /** Overrides the NATS URLs registration handed out (e.g. the server seen from here). */
  natsUrls?: string[];
  model?: SimulationModel | SimulationModelConfig;
  /** Reference host figures that simulated profiles are derived from. */
  hostFigures?: ProfileFigures;
  /** Default 5,000 ms, as the agent; 0 sends none. */
  telemetryIntervalMs?: number;
  /** Really download artifacts and canary sets by direct gets and check their sha256. */
  download?: boolean;
  /** First connects in flight (default 64). */
  connectConcurrency?: number;
  /** Seed of every device's random draws (default 1): same seed, same fleet file, same draws. */
  seed?: number;
  logger?: BusLogger;
  /** Progress of the start: registering and connecting, `done` of `total`. */
  onProgress?(phase: "register" | "connect", done: number, total: number): void;
}

export type LoadTarget =
  | "all"
  | { deviceIds: readonly string[] }
  /** A random share of the fleet (or of one class), drawn from `seed`. */
  | { fraction: number; deviceClass?: string; seed?: number };

export interface DeviceView {
  id: string;
  name: string;
  deviceClass: string;
  registeredBy: "enroll" | "bulk";
  connected: boolean;
  load: number;
  serving: { generation: number; variantId: string; variantName: string } | null;
  reported: { generation: number; phase: string } | null;
  /** Median latency the model gave its last simulated requests (ms), null before any. */
  medianLatencyMs: number | null;
}

export interface FleetStats {
  devices: number;
  connected: number;
  byClass: Record<string, number>;
  registered: { enroll: number; bulk: number; thisRun: number };
  /** Devices by the phase of their last state report ("none" before any). */
  phases: Record<string, number>;
  /** Devices whose co-tenant load is not 1. */
  loaded: number;
  counters: {
    connects: number;
    disconnects: number;
    heartbeats: number;
    events: number;
    eventFailures: number;
    desiredReads: number;
    staleIgnored: number;
    applied: number;
    failed: number;
    telemetrySent: number;
    telemetryPending: number;
    requests: number;
  };
  timings: { registerMs: number; connectMs: number };
  process: {
    pid: number;
    rssBytes: number;
    heapUsedBytes: number;
    heapTotalBytes: number;
    externalBytes: number;
    cpuPercent: number;
    uptimeS: number;
  };
}

export interface RunningFleet {
  readonly devices: readonly DeviceView[];
  device(id: string): DeviceView | undefined;
  /** Sets the co-tenant load factor (latency multiplier) of the targeted devices; their ids. */
  setLoad(target: LoadTarget, factor: number): string[];
  stats(): FleetStats;
  /** Resolves when no device is in the middle of an apply pass. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

const silent: BusLogger = { debug() {}, info() {}, warn() {}, error() {} };

export async function startFleet(options: FleetOptions): Promise<RunningFleet> {
  const log = options.logger ?? silent;
  const t0 = performance.now();
  const { fleet, registeredNow } = await prepareFleet(options);
  const registerMs = performance.now() - t0;
  fleet.runs++;
  await saveFleetFile(options.fleetFile, fleet);

  const model =
    options.model instanceof SimulationModel ? options.model : new SimulationModel(options.model);
  const host = await readHardwareFacts();
  const factsByClass = new Map<string, ReturnType<typeof simulatedFacts>>();
  const ctx: FleetContext = {
    natsUrls: options.natsUrls ?? fleet.natsUrls,
    heartbeatIntervalMs: fleet.heartbeatIntervalMs,
    telemetryIntervalMs: options.telemetryIntervalMs ?? 5_000,
    artifactPublicKey: fleet.artifactPublicKey,
    model,
    epoch: fleet.runs,
    download: options.download ?? false,
    seed: options.seed ?? 1,
    facts: (spec: DeviceClassSpec) => {
      const known = factsByClass.get(spec.name);
      if (known) return known;
      const f = simulatedFacts(host, spec);
      factsByClass.set(spec.name, f);
      return f;
    },
    hostFigures: options.hostFigures,
    log,
    connectionLog: {
      debug: log.debug.bind(log),
      info: () => {},
      warn: log.debug.bind(log),
      error: log.warn.bind(log),
    },
  };
  const devices = fleet.devices.slice(0, options.devices).map((d) => new VirtualDevice(d, ctx));
  const byId = new Map(devices.map((d) => [d.id, d]));

  const t1 = performance.now();
  let connected = 0;
  await mapLimit(devices, options.connectConcurrency ?? 64, async (d) => {
    await d.start();
    options.onProgress?.("connect", ++connected, devices.length);
  });
  const connectMs = performance.now() - t1;
  log.info(
    {
      devices: devices.length,
      connected: devices.filter((d) => d.connected).length,
      connectMs: Math.round(connectMs),
    },
    "fleet connected",
  );

  let cpu = process.cpuUsage();
  let cpuAt = performance.now();
  const startedAt = Date.now();
  const view = (d: VirtualDevice): DeviceView => ({
    id: d.id,
    name: d.name,
    deviceClass: d.deviceClass,
    registeredBy: d.sim.registeredBy,
    connected: d.connected,
    load: d.load,
    serving: d.apply.serving && {
      generation: d.apply.serving.generation,
      variantId: d.apply.serving.manifest.variant.id,
      variantName: d.apply.serving.manifest.variant.name,
    },
    reported: d.apply.lastReported,
    medianLatencyMs: d.telemetry.lastMedianMs,
  });

  return {
    get devices() {
      return devices.map(view);
    },
    device(id) {
      const d = byId.get(id);
      return d && view(d);
    },
    setLoad(target, factor) {
      if (!(factor > 0 && Number.isFinite(factor)))
        throw new RangeError(`load factor ${factor} must be > 0`);
      const chosen = selectDevices(devices, target);
      for (const d of chosen) d.setLoad(factor);
      return chosen.map((d) => d.id);
    },
    stats() {
      const usage = process.cpuUsage(cpu);
      const now = performance.now();
      const cpuPercent = ((usage.user + usage.system) / 1000 / Math.max(1, now - cpuAt)) * 100;
      cpu = process.cpuUsage();
      cpuAt = now;
      return fleetStats(devices, registeredNow, { registerMs, connectMs }, cpuPercent, startedAt);
    },
    async settled() {
      await Promise.all(devices.map((d) => d.apply.settled()));
    },
    async stop() {
      await mapLimit(devices, 256, (d) => d.stop());
      // Keep what devices learnt (profiled once) for the next run.
      const profiled = new Set(devices.filter((d) => d.profiled).map((d) => d.id));
      for (const d of fleet.devices) if (profiled.has(d.id)) d.profiled = true;
      await saveFleetFile(options.fleetFile, fleet);
    },
  };
}

/** The fleet file, grown by registration to `options.devices` if it holds fewer. */
async function prepareFleet(
  options: FleetOptions,
): Promise<{ fleet: FleetFile; registeredNow: number }> {
  const existing = await loadFleetFile(options.fleetFile);
  const have = existing?.devices ?? [];
  const missing = options.devices - have.length;
  const reg = options.registration;
  if (
    existing &&
    reg?.kind === "bulk" &&
    have.length > 0 &&
    !(await issuedBy(reg.stateDir, have[0].jwt))
  ) {
    throw new RegistrationError(
      `${options.fleetFile} was registered with another control plane (its JWTs are not issued by the fleet account in ${reg.stateDir}): use another --fleet-file`,
    );
  }
  if (missing <= 0 && existing) return { fleet: existing, registeredNow: 0 };
  if (!reg) {
    throw new RegistrationError(
      `${options.fleetFile} holds ${have.length} devices, ${options.devices} wanted: registration needed for ${missing} (CLI: --enrollment-token, or --register bulk)`,
    );
  }
  const mix =
    typeof options.classMix === "string" || options.classMix === undefined
      ? parseClassMix(options.classMix ?? DEFAULT_CLASS_MIX)
      : options.classMix;
  const classes = dealClasses(
    mix,
    missing,
    have.map((d) => d.deviceClass),
  );
  const host = await readHardwareFacts();
  const prefix = options.namePrefix ?? "sim";
  const wanted = classes.map((c, i) => ({
    name: `${prefix}-${String(have.length + i + 1).padStart(5, "0")}`,
    deviceClass: c,
    facts: simulatedFacts(host, deviceClass(c)),
    labels: { ...options.labels, sim: "fleet-sim", class: c },
  }));
  const res = await register(reg, wanted);
  const fleet: FleetFile = {
    version: 1,
    runs: existing?.runs ?? 0,
    natsUrls: res.natsUrls.length ? res.natsUrls : (existing?.natsUrls ?? []),
    heartbeatIntervalMs: res.heartbeatIntervalMs || existing?.heartbeatIntervalMs || 5_000,
    artifactPublicKey: res.artifactPublicKey || existing?.artifactPublicKey || "",
    devices: [...have, ...res.devices],
  };
  // Saved before anything else can fail: these devices exist in the control plane now.
  await saveFleetFile(options.fleetFile, fleet);
  options.onProgress?.("register", res.devices.length, missing);
  if (res.error) throw res.error;
  return { fleet, registeredNow: res.devices.length };
}

function selectDevices(devices: readonly VirtualDevice[], target: LoadTarget): VirtualDevice[] {
  if (target === "all") return [...devices];
  if ("deviceIds" in target) {
    const ids = new Set(target.deviceIds);
    return devices.filter((d) => ids.has(d.id));
  }
  const pool = devices.filter((d) => !target.deviceClass || d.deviceClass === target.deviceClass);
  const k = Math.round(Math.min(1, Math.max(0, target.fraction)) * pool.length);
  // Partial Fisher-Yates: k distinct devices.
  const r = new Random(target.seed ?? (Math.random() * 2 ** 32) >>> 0);
  const a = [...pool];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(r.next() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}

function fleetStats(
  devices: readonly VirtualDevice[],
  registeredNow: number,
  timings: FleetStats["timings"],
  cpuPercent: number,
  startedAt: number,
): FleetStats {
  const byClass: Record<string, number> = {};
  const phases: Record<string, number> = {};
  const c: FleetStats["counters"] = {
    connects: 0,
    disconnects: 0,
    heartbeats: 0,
    events: 0,
    eventFailures: 0,
    desiredReads: 0,
    staleIgnored: 0,
    applied: 0,
    failed: 0,
    telemetrySent: 0,
    telemetryPending: 0,
    requests: 0,
  };
  let connected = 0;
  let loaded = 0;
  let enroll = 0;
  for (const d of devices) {
    byClass[d.deviceClass] = (byClass[d.deviceClass] ?? 0) + 1;
    const phase = d.apply.lastReported?.phase ?? "none";
    phases[phase] = (phases[phase] ?? 0) + 1;
    if (d.connected) connected++;
    if (d.load !== 1) loaded++;
    if (d.sim.registeredBy === "enroll") enroll++;
    c.connects += d.connects;
    c.disconnects += d.disconnects;
    c.heartbeats += d.heartbeats;
    c.events += d.events;
    c.eventFailures += d.eventFailures;
    c.desiredReads += d.desiredReads;
    c.staleIgnored += d.apply.staleIgnored;
    c.applied += d.apply.applied;
    c.failed += d.apply.failed;
    c.telemetrySent += d.telemetry.sent;
    c.telemetryPending += d.telemetry.pending;
    c.requests += d.telemetry.requests;
  }
  const mem = process.memoryUsage();
  return {
    devices: devices.length,
    connected,
    byClass,
    registered: { enroll, bulk: devices.length - enroll, thisRun: registeredNow },
    phases,
    loaded,
    counters: c,
    timings: {
      registerMs: Math.round(timings.registerMs),
      connectMs: Math.round(timings.connectMs),
    },
    process: {
      pid: process.pid,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      heapTotalBytes: mem.heapTotal,
      externalBytes: mem.external,
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
    },
  };
}
