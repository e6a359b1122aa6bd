// `npm start`: a whole Edgefleet on one machine. Uses DATABASE_URL / NATS_URL when given,
// otherwise an embedded PostgreSQL and a spawned nats-server under STATE_DIR; starts the control
// plane and a few agents (separate processes), and shows fleet events live. Ctrl-C stops it all.
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { loadOrCreateFleetAuth, natsServers } from "@edgefleet/bus";
import { type ControlPlane, startControlPlane } from "@edgefleet/control-plane";
import { startEmbeddedPostgres } from "@edgefleet/db";
import { pino } from "pino";
import { type AgentProcesses, localDigits, spawnAgents } from "./agents";
import { readEnv } from "./env";
import { ensureNatsServer, NatsServerMissingError, startNats } from "./nats-process";
import { watchFleet } from "./watch";

const CLASSES = ["rpi4", "jetson-nano", "x86-gateway", "mcu-gateway"];
const env = readEnv();
const stateDir = resolve(env.STATE_DIR);
const logFile = join(stateDir, "logs", "control-plane.log");
const stoppers: Array<() => Promise<void>> = [];
const step = (text: string) => console.log(`  • ${text}`);

async function main() {
  console.log(`Edgefleet local stack (state in ${stateDir})`);
  const { mkdir } = await import("node:fs/promises");
  await mkdir(join(stateDir, "logs"), { recursive: true });
  const logger = pino({ level: env.LOG_LEVEL }, pino.destination({ dest: logFile, sync: false }));
  const cpState = join(stateDir, "control-plane");
  const auth = await loadOrCreateFleetAuth(cpState);

  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    step("starting embedded PostgreSQL…");
    const pg = await startEmbeddedPostgres({
      dataDir: join(stateDir, "postgres"),
      port: env.PG_PORT,
      notice: step,
    });
    stoppers.unshift(pg.stop);
    databaseUrl = pg.url;
  }
  step(`PostgreSQL: ${redact(databaseUrl)}`);

  let natsUrl = env.NATS_URL;
  if (!natsUrl) {
    const bin = await ensureNatsServer(env.NATS_SERVER_BIN, { log: step });
    const nats = await startNats({ bin, auth, dir: join(stateDir, "nats"), port: env.NATS_PORT });
    stoppers.unshift(nats.stop);
    natsUrl = nats.url;
    step(`nats-server (operator mode, JetStream): ${natsUrl}`);
  } else {
    step(`NATS: ${natsUrl}`);
  }

  const cp: ControlPlane = await startControlPlane({
    databaseUrl,
    natsUrl: natsServers(natsUrl),
    natsAuth: env.NATS_AUTH === "true",
    stateDir: cpState,
    httpHost: "127.0.0.1",
    httpPort: env.HTTP_PORT,
    grpcHost: "127.0.0.1",
    grpcPort: env.GRPC_PORT,
    heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
    heartbeatTimeoutMs: env.HEARTBEAT_TIMEOUT_MS,
    logger,
  });
  stoppers.unshift(cp.stop);
  const adminToken = (await readFile(cp.adminTokenPath, "utf8")).trim();
  step(`control plane: REST ${cp.httpUrl}  gRPC ${cp.grpcAddress}`);
  step(`WebSocket stream: ${cp.httpUrl.replace("http", "ws")}/api/v1/stream`);
  step(`admin API token: ${cp.adminTokenPath}`);
  const consoleLine = await consoleStatus(cp.httpUrl, cp.adminTokenPath);
  step(consoleLine);

  const stopWatch = await watchFleet(cp.httpUrl, adminToken, (line) => console.log(`    ${line}`));
  stoppers.unshift(stopWatch);

  if (env.AGENTS > 0) {
    const token = await createEnrollmentToken(cp.httpUrl, adminToken, env.AGENTS);
    const agents: AgentProcesses = await spawnAgents({
      specs: Array.from({ length: env.AGENTS }, (_, i) => ({
        name: `agent-${i + 1}`,
        simulatedClass: CLASSES[i % CLASSES.length] ?? "",
        dataDir: join(stateDir, "agents", `agent-${i + 1}`),
        localApiPort: env.AGENT_API_PORT + 2 * i,
        calibrationData: localDigits(i, env.AGENTS),
      })),
      controlPlaneGrpc: cp.grpcAddress,
      enrollmentToken: token,
      logDir: join(stateDir, "logs"),
      logLevel: env.LOG_LEVEL,
      nodeFlags: env.AGENT_NODE_FLAGS.split(/\s+/).filter(Boolean),
    });
    stoppers.unshift(agents.stop);
    step(`${env.AGENTS} agents started (logs in ${join(stateDir, "logs")})`);
    for (let i = 0; i < env.AGENTS; i++) {
      const port = env.AGENT_API_PORT + 2 * i;
      step(
        `  agent-${i + 1}: local inference http://127.0.0.1:${port}  gRPC 127.0.0.1:${port + 1}`,
      );
    }
  }
  console.log(
    `\nReady. ${consoleLine}\nOr try:\n  curl -H "Authorization: Bearer $(cat ${cp.adminTokenPath})" ${cp.httpUrl}/api/v1/devices\nCtrl-C stops everything.\n`,
  );
}

/** The console's URL, once `/` answers with it (npm start builds it), or how to build it. */
async function consoleStatus(httpUrl: string, tokenPath: string): Promise<string> {
  const res = await fetch(`${httpUrl}/`).catch(() => undefined);
  if (res?.status === 200 && (await res.text()).includes('id="app"')) {
    return `web console: ${httpUrl}/ (log in with the admin API token: cat ${tokenPath})`;
  }
  return `web console: not built (npm run build -w @edgefleet/console, then open ${httpUrl}/)`;
}

async function createEnrollmentToken(httpUrl: string, adminToken: string, uses: number) {
  const res = await fetch(`${httpUrl}/api/v1/enrollment-tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ label: "local-stack", maxUses: uses, expiresInSeconds: 3600 }),
  });
  if (!res.ok) throw new Error(`could not create an enrollment token: HTTP ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

function redact(url: string) {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, "//$1:***@");
}

let stopping = false;
async function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping…");
  for (const stop of stoppers) {
    await stop().catch((err) => console.error(`  stop failed: ${String(err)}`));
  }
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

main().catch((err) => {
  if (err instanceof NatsServerMissingError) console.error(err.message);
  else console.error(`local stack failed: ${err instanceof Error ? err.message : String(err)}`);
  void stopAll(1);
});
