// Fault (issue 11): one nats-server of a 3-node JetStream cluster (streams, KV and Object Store
// at R3) SIGKILLed during a rollout, after every stream's leader was moved onto it, while the
// devices are mid-download of a multi-MB artifact and serve live requests; it comes back later
// with an empty disk. The rollout must complete, every device apply the planned variant (right
// digest, desired = reported), and every request it served be counted once in Postgres.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { closeBus } from "@edgefleet/bus";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import { createPrisma } from "@edgefleet/db";
import {
  NATS_SERVER_BIN,
  type NatsServerHandle,
  type ProcessHandle,
  startProcess,
} from "@edgefleet/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningAgent } from "../agent";
import { startTestStack, type TestStack, until } from "../test-stack";

const DEVICES = 3;
let stack: TestStack;
let admin: NatsConnection;
let restarted: ProcessHandle | undefined;
const agents: RunningAgent[] = [];
const dataDirs: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ~13 MB of fp32 weights: about a hundred Object Store chunks, long enough to be cut mid-way.
const bigModel = exportOnnx(createMlp([784, 2048, 768, 10], 7));
const smallModel = exportOnnx(createMlp([784, 32, 10], 3));

beforeAll(async () => {
  stack = await startTestStack(
    {
      // Reconnects after the kill take a few seconds: no device should count as offline for it.
      heartbeatIntervalMs: 500,
      heartbeatTimeoutMs: 20_000,
      controllers: { tickMs: 200, leaseTtlMs: 3_000 },
    },
    { natsNodes: 3 },
  );
  // The control plane's own credentials: the JetStream API, to move stream leaders.
  admin = await stack.controlPlaneBus("fault-admin");
  for (const { agent, dataDir } of await stack.startProfiledAgents(DEVICES, "cluster", {
    labels: { fleet: "cluster" },
    localApi: { host: "127.0.0.1", httpPort: 0 },
    telemetryIntervalMs: 300,
  })) {
    agents.push(agent);
    dataDirs.push(dataDir);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  if (admin) await closeBus(admin);
  await restarted?.kill("SIGTERM");
  await stack?.stop();
});

/** Requests on every agent's local API until stopped; counts the answers each one gave. */
function traffic() {
  let running = true;
  const answered = agents.map(() => 0);
  const body = Buffer.from(new Float32Array(784).fill(0.5).buffer);
  const loops = agents.map(async (a, k) => {
    while (running) {
      const res = await fetch(`${a.localUrl}/v1/infer`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body,
      }).catch(() => undefined);
      if (res) {
        await res.arrayBuffer();
        answered[k]++;
      }
      await sleep(5);
    }
  });
  return async () => {
    running = false;
    await Promise.all(loops);
    return answered;
  };
}

async function serverName(node: NatsServerHandle): Promise<string> {
  const varz = (await (await fetch(`http://127.0.0.1:${node.httpPort}/varz`)).json()) as {
    server_name: string;
  };
  return varz.server_name;
}

/** Devices (and the control plane) connected to a node, by connection name. */
async function connectionNames(node: NatsServerHandle): Promise<string[]> {
  const connz = (await (
    await fetch(`http://127.0.0.1:${node.httpPort}/connz?limit=1000`)
  ).json()) as { connections?: { name?: string }[] };
  return (connz.connections ?? []).map((c) => c.name ?? "");
}

/** Steps a replicated asset's leader down until the victim leads it. */
async function leadOnto(
  victim: string,
  what: string,
  info: () => Promise<{ cluster?: { leader?: string }; replicas: number } | undefined>,
  stepdown: string,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const now = await info().catch(() => undefined);
    const leader = now?.cluster?.leader;
    if (leader === victim || (now && now.replicas < 2)) return;
    if (attempt > 60) throw new Error(`${what}: leader stays on ${leader}`);
    if (leader) await admin.request(stepdown, undefined, { timeout: 5_000 }).catch(() => {});
    await sleep(300);
  }
}

/** Moves every stream's and durable consumer's leader onto the victim; returns what it moved. */
async function leadersOnto(victim: string): Promise<string[]> {
  const jsm = await jetstreamManager(admin, { timeout: 10_000 });
  const moved: string[] = [];
  for await (const stream of jsm.streams.names()) {
    await leadOnto(
      victim,
      stream,
      async () => {
        const i = await jsm.streams.info(stream);
        return { cluster: i.cluster, replicas: i.config.num_replicas };
      },
      `$JS.API.STREAM.LEADER.STEPDOWN.${stream}`,
    );
    moved.push(stream);
    for await (const c of jsm.consumers.list(stream)) {
      if (!c.config.durable_name) continue;
      const name = c.name;
      await leadOnto(
        victim,
        `${stream} > ${name}`,
        async () => {
          const i = await jsm.consumers.info(stream, name);
          return { cluster: i.cluster, replicas: i.config.num_replicas || 3 };
        },
        `$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.${name}`,
      );
      moved.push(`${stream} > ${name}`);
    }
  }
  return moved;
}

/** Each device's reported phase as it changes, in seconds after the kill. */
const timeline = {
  last: new Map<string, string>(),
  lines: [] as string[],
  async note(since: number) {
    for (const [k, a] of agents.entries()) {
      const v = (await stack.api(`/api/v1/devices/${a.deviceId}/assignment`)).body as {
        reported?: { generation: number; phase: string; step?: string; error?: string };
      };
      const r = v.reported;
      const now = r ? `g${r.generation} ${r.phase}${r.step ? `/${r.step}` : ""}` : "none";
      if (this.last.get(a.deviceId) === now) continue;
      this.last.set(a.deviceId, now);
      const t = ((Date.now() - since) / 1000).toFixed(1);
      this.lines.push(`+${t}s device ${k}: ${now}${r?.error ? ` (${r.error.slice(0, 120)})` : ""}`);
    }
  },
  text() {
    return this.lines.join("\n");
  },
};

/** The rollout, its targets and every device's deployment, for a failure message. */
async function whereThingsStand(rolloutId: string): Promise<string> {
  const rollout = (await stack.api(`/api/v1/rollouts/${rolloutId}`)).body;
  const targets = (await stack.api(`/api/v1/rollouts/${rolloutId}/targets`)).body.items;
  const views = await Promise.all(
    agents.map(async (a) => (await stack.api(`/api/v1/devices/${a.deviceId}/assignment`)).body),
  );
  return JSON.stringify({ rollout, targets, views }, null, 1);
}

/** Bytes of the largest partial download in any agent's artifact dir. */
async function partialBytes(): Promise<number> {
  let most = 0;
  for (const dir of dataDirs) {
    const files = await readdir(join(dir, "artifacts")).catch(() => [] as string[]);
    for (const f of files.filter((n) => n.startsWith(".part-"))) {
      const s = await stat(join(dir, "artifacts", f)).catch(() => undefined);
      most = Math.max(most, s?.size ?? 0);
    }
  }
  return most;
}

it("a rollout completes through a cluster node killed mid-download, telemetry counted once", async () => {
  const cluster = stack.cluster!;
  // Every device serves a small variant first, so requests are answered (and counted) throughout.
  const base = await stack.importModel({
    name: "base",
    variants: [{ name: "small", bytes: smallModel }],
  });
  for (const a of agents) {
    const res = await stack.api(`/api/v1/devices/${a.deviceId}/assignment`, {
      method: "PUT",
      body: JSON.stringify({ variantId: base.variantIds.get("small") }),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
  await until(
    "every device serving the small variant",
    async () => {
      const views = await Promise.all(
        agents.map(async (a) => (await stack.api(`/api/v1/devices/${a.deviceId}/assignment`)).body),
      );
      return views.every((v) => v.inSync === true) || undefined;
    },
    30_000,
  );
  const m = await stack.importModel({
    name: "big",
    variants: [{ name: "fp32", bytes: bigModel }],
  });
  const bigVariant = m.variantIds.get("fp32")!;

  // The victim: the node holding the most device connections (the control plane's breaks ties).
  const names = await Promise.all(cluster.servers.map(connectionNames));
  const score = (n: string[]) =>
    n.filter((c) => c.startsWith("device-")).length * 2 + (n.includes("control-plane") ? 1 : 0);
  const victimIndex = names.reduce((best, n, i) => (score(n) > score(names[best]) ? i : best), 0);
  const victim = cluster.servers[victimIndex];
  const victimName = await serverName(victim);
  const onVictim = names[victimIndex].filter((c) => c.startsWith("device-")).length;
  const leaders = await leadersOnto(victimName);
  expect(leaders).toEqual(
    expect.arrayContaining(["TELEMETRY", "EVENTS", "KV_desired", "OBJ_artifacts"]),
  );
  const config = await readFile(join(victim.dir, "nats.conf"), "utf8");

  const stopTraffic = traffic();
  let answered: number[] = [];
  try {
    const created = await stack.api("/api/v1/rollouts", {
      method: "POST",
      body: JSON.stringify({
        modelId: m.modelId,
        name: "through-a-node-loss",
        selector: { labels: { fleet: "cluster" } },
        policy: { latencySloMs: 5_000 },
        strategy: {
          waves: ["100%"],
          bakeSeconds: 2,
          gates: { latency: { minRequests: 20 }, errors: { minRequests: 20 } },
        },
      }),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = String(created.body.id);
    expect(
      (await stack.api(`/api/v1/rollouts/${id}/start`, { method: "POST", body: "{}" })).status,
    ).toBe(200);
    // SIGKILL once a device has 2 MiB of the artifact on disk (and not all of it).
    const cutAt = await until(
      "a download under way",
      async () => {
        const bytes = await partialBytes();
        return bytes >= 2 * 2 ** 20 && bytes < bigModel.length ? bytes : undefined;
      },
      60_000,
      10,
    );
    process.kill(victim.pid, "SIGKILL");
    const killedAt = Date.now();

    // Back after a while with an empty disk (its testkit watchdog removes the dir of a dead
    // server), while the rollout goes on.
    const restart = (async () => {
      await sleep(8_000);
      await mkdir(victim.dir, { recursive: true });
      await writeFile(join(victim.dir, "nats.conf"), config, { mode: 0o600 });
      restarted = await startProcess({
        name: `nats-server ${victimName} (restarted)`,
        command: NATS_SERVER_BIN,
        args: ["-c", join(victim.dir, "nats.conf")],
        env: process.env,
        ready: /Server is ready/,
        readyTimeoutMs: 20_000,
      });
      timeline.lines.push(`+${((Date.now() - killedAt) / 1000).toFixed(1)}s ${victimName} back`);
    })();

    const done = await until(
      "the rollout completed",
      async () => {
        await timeline.note(killedAt);
        const r = (await stack.api(`/api/v1/rollouts/${id}`)).body;
        if (r.state === "halted" || r.state === "failed") {
          throw new Error(`rollout ${r.state}: ${JSON.stringify(r)}`);
        }
        return r.state === "completed" ? r : undefined;
      },
      90_000,
      250,
    ).catch(async (err) => {
      throw new Error(
        `${(err as Error).message}\n${timeline.text()}\n${await whereThingsStand(id)}`,
      );
    });
    await restart;
    console.info(
      `fault: ${onVictim}/${DEVICES} devices on ${victimName}, leaders moved there (${leaders.join(", ")}), ` +
        `killed at ${(cutAt / 2 ** 20).toFixed(1)} MiB of ${(bigModel.length / 2 ** 20).toFixed(1)} MiB, ` +
        `rollout completed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill\n${timeline.text()}`,
    );
    expect(done.state).toBe("completed");
    const targets = (await stack.api(`/api/v1/rollouts/${id}/targets`)).body.items as {
      deviceId: string;
      variantId: string;
      state: string;
    }[];
    expect(targets).toHaveLength(DEVICES);
    for (const t of targets) expect(t).toMatchObject({ variantId: bigVariant, state: "applied" });
  } finally {
    answered = await stopTraffic();
  }

  const digest = createHash("sha256").update(bigModel).digest("hex");
  for (const a of agents) {
    const view = (await stack.api(`/api/v1/devices/${a.deviceId}/assignment`)).body as {
      inSync: boolean;
      reported: { phase: string; serving: { variantId: string; digest: string } | null };
    };
    expect(view.inSync, JSON.stringify(view)).toBe(true);
    expect(view.reported.serving).toMatchObject({ variantId: bigVariant, digest });
    const model = (await (await fetch(`${a.localUrl}/v1/model`)).json()) as { variantId?: string };
    expect(model.variantId).toBe(bigVariant);
  }

  // Every answered request in the rollups once, not one lost nor counted twice.
  for (const a of agents) await a.telemetry.flush();
  const prisma = createPrisma(stack.db.url);
  try {
    const counted = async () =>
      Promise.all(
        agents.map(async (a) => {
          const rows = await prisma.telemetryRollup.findMany({ where: { deviceId: a.deviceId } });
          return rows.reduce((n, r) => n + r.requests, 0);
        }),
      );
    // Windows still open when the traffic stopped close within one interval.
    await until(
      "telemetry folded",
      async () => {
        const c = await counted();
        return c.every((n, i) => n >= answered[i]) || undefined;
      },
      45_000,
      250,
    ).catch(async (err) => {
      const metrics = await (await fetch(`${stack.cp.httpUrl}/metrics`)).text();
      const lines = metrics.split("\n").filter((l) => l.startsWith("edgefleet_telemetry_messages"));
      throw new Error(
        `${(err as Error).message}: counted ${await counted()} of ${answered}\n${lines.join("\n")}`,
      );
    });
    await sleep(1_500);
    expect(await counted()).toEqual(answered);
    // Requests were answered all along, on each device.
    expect(Math.min(...answered), String(answered)).toBeGreaterThan(20);
  } finally {
    await prisma.$disconnect();
  }
}, 240_000);
