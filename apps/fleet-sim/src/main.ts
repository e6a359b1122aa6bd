// fleet-sim CLI: register (if needed) and run simulated devices until Ctrl-C.
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { pino } from "pino";
import { startControlApi } from "./control-api";
import { readEnv } from "./env";
import { DEFAULT_CLASS_MIX, startFleet } from "./fleet";
import { SimulationModel, type SimulationModelConfig } from "./model";
import type { Registration } from "./register";

const integer =
  (name: string, min = 1) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
const number = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number >= 0`);
  return n;
};
const label = (v: string, prev: Record<string, string> = {}) => {
  const [k, ...rest] = v.split("=");
  if (!k || rest.length === 0) throw new InvalidArgumentError("--label wants key=value");
  return { ...prev, [k]: rest.join("=") };
};
const list = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

interface CliOptions {
  devices: number;
  classMix: string;
  register: "enroll" | "bulk";
  controlPlane: string;
  enrollmentToken?: string;
  enrollConcurrency: number;
  stateDir: string;
  databaseUrl?: string;
  nats?: string[];
  heartbeatMs: number;
  fleetFile: string;
  namePrefix: string;
  label?: Record<string, string>;
  model?: string;
  telemetryInterval: number;
  requestRate?: number;
  applyMs?: number;
  download?: boolean;
  connectConcurrency: number;
  seed: number;
  controlApi: boolean;
  controlHost: string;
  controlPort: number;
  statsEvery: number;
}

export function buildProgram(run: (o: CliOptions) => Promise<void>): Command {
  return new Command("fleet-sim")
    .description(
      "Simulated edge devices for demos, load and fault tests: each with its own nkey, JWT and NATS connection, behaving like the agent on the wire (heartbeats, events, desired state, state reports, telemetry) without loading models",
    )
    .requiredOption("--devices <n>", "devices to run", integer("--devices"))
    .option("--class-mix <mix>", "classes of new devices, <class>:<share>,...", DEFAULT_CLASS_MIX)
    .addOption(
      new Option("--register <how>", "how devices the fleet file lacks are registered")
        .choices(["enroll", "bulk"])
        .default("enroll"),
    )
    .option("--control-plane <host:port>", "gRPC endpoint for enrollment", "127.0.0.1:50051")
    .option("--enrollment-token <token>", "many-use enrollment token (or ENROLLMENT_TOKEN)")
    .option("--enroll-concurrency <n>", "enrollments in flight", integer("--enroll-concurrency"), 8)
    .option(
      "--state-dir <dir>",
      "bulk: the control plane's state dir (fleet-auth.json: its secrets)",
      ".edgefleet/control-plane",
    )
    .option("--database-url <url>", "bulk: the control plane's database (or DATABASE_URL)")
    .option(
      "--nats <urls>",
      "NATS URLs devices connect to (bulk: required unless the default fits; enroll: overrides what enrollment handed out)",
      list,
    )
    .option(
      "--heartbeat-ms <ms>",
      "bulk: heartbeat interval (the control plane's HEARTBEAT_INTERVAL_MS)",
      integer("--heartbeat-ms", 100),
      5_000,
    )
    .option(
      "--fleet-file <path>",
      "the fleet (ids, seeds, JWTs) kept between runs",
      ".edgefleet/fleet-sim/fleet.json",
    )
    .option("--name-prefix <prefix>", "names of new devices: <prefix>-<n>", "sim")
    .option("--label <key=value>", "label of new devices (repeatable)", label)
    .option("--model <file>", "simulation model JSON (classes, variants, rates; see README)")
    .option(
      "--telemetry-interval <s>",
      "seconds per telemetry window",
      number("--telemetry-interval"),
      5,
    )
    .option(
      "--request-rate <n>",
      "simulated requests per device per second (model: requestsPerSecond)",
      number("--request-rate"),
    )
    .option("--apply-ms <ms>", "simulated apply time (model: applyMs)", number("--apply-ms"))
    .option(
      "--download",
      "really download artifacts and canary sets by direct gets and check their sha256",
    )
    .option(
      "--connect-concurrency <n>",
      "first connects in flight",
      integer("--connect-concurrency"),
      64,
    )
    .option("--seed <n>", "seed of the simulated draws", integer("--seed", 0), 1)
    .option("--no-control-api", "no local HTTP control API")
    .option("--control-host <host>", "control API host", "127.0.0.1")
    .option(
      "--control-port <port>",
      "control API port (0: any)",
      integer("--control-port", 0),
      8490,
    )
    .option(
      "--stats-every <s>",
      "log a stats line every s seconds (0: never)",
      number("--stats-every"),
      30,
    )
    .action((o: CliOptions) => run(o));
}

async function run(o: CliOptions): Promise<void> {
  const env = readEnv();
  const log = pino({ level: env.LOG_LEVEL, base: { app: "fleet-sim" } });
  const fleetFile = env.resolvePath(o.fleetFile);
  await mkdir(dirname(fleetFile), { recursive: true, mode: 0o700 });
  const model = await loadModel(o, env.resolvePath);
  const token = o.enrollmentToken ?? env.ENROLLMENT_TOKEN;
  const registration: Registration | undefined =
    o.register === "bulk"
      ? {
          kind: "bulk",
          stateDir: env.resolvePath(o.stateDir),
          databaseUrl: o.databaseUrl ?? env.DATABASE_URL,
          natsUrls: o.nats ?? ["nats://127.0.0.1:4322"],
          heartbeatIntervalMs: o.heartbeatMs,
        }
      : token
        ? {
            kind: "enroll",
            controlPlaneGrpc: o.controlPlane,
            enrollmentToken: token,
            concurrency: o.enrollConcurrency,
          }
        : undefined;
  let lastProgress = 0;
  const fleet = await startFleet({
    devices: o.devices,
    fleetFile,
    registration,
    classMix: o.classMix,
    namePrefix: o.namePrefix,
    labels: o.label,
    natsUrls: o.nats,
    model,
    telemetryIntervalMs: o.telemetryInterval * 1000,
    download: o.download,
    connectConcurrency: o.connectConcurrency,
    seed: o.seed,
    logger: log,
    onProgress: (phase, done, total) => {
      if (phase === "register") log.info({ registered: done, of: total }, "registered");
      else if (done === total || Date.now() - lastProgress > 2_000) {
        lastProgress = Date.now();
        log.info({ connecting: done, of: total }, "connecting");
      }
    },
  });
  const api = o.controlApi
    ? await startControlApi(fleet, { host: o.controlHost, port: o.controlPort })
    : undefined;
  const s = fleet.stats();
  log.info(
    { devices: s.devices, connected: s.connected, ...s.timings, control: api?.url, fleetFile },
    "fleet running (Ctrl-C stops it)",
  );
  const ticker =
    o.statsEvery > 0
      ? setInterval(() => {
          const st = fleet.stats();
          log.info(
            {
              connected: st.connected,
              phases: st.phases,
              telemetrySent: st.counters.telemetrySent,
              pending: st.counters.telemetryPending,
              cpu: st.process.cpuPercent,
              rssMiB: Math.round(st.process.rssBytes / 2 ** 20),
            },
            "stats",
          );
        }, o.statsEvery * 1000)
      : undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping the fleet");
    clearInterval(ticker);
    await api?.close();
    await fleet.stop();
    log.info("fleet stopped");
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}

async function loadModel(o: CliOptions, resolvePath: (p: string) => string) {
  let config: SimulationModelConfig = {};
  if (o.model) {
    const path = resolvePath(o.model);
    try {
      config = JSON.parse(await readFile(path, "utf8"));
    } catch (err) {
      throw new Error(`--model ${path}: ${(err as Error).message}`);
    }
  }
  if (o.requestRate !== undefined) config = { ...config, requestsPerSecond: o.requestRate };
  if (o.applyMs !== undefined) config = { ...config, applyMs: o.applyMs };
  return new SimulationModel(config);
}

buildProgram(run)
  .parseAsync()
  .catch((err: Error) => {
    process.stderr.write(`fleet-sim: error: ${err.message.split("\n")[0]}\n`);
    process.exit(1);
  });
