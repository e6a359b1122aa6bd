// Time to fleet: a ~23 MB artifact (MLP 784-2048-2048-10 fp32, random weights) assigned to N
// agents at once, from the first PUT to the last device reporting the new generation applied
// (downloaded by direct gets, digest and signature verified, loaded in ONNX Runtime, warmed up,
// swapped in). The agents are the real agent code (reconciler, downloader, ORT), N instances in
// this process, each with its own identity, NATS connection and local store: a fleet simulator of
// real agents. Beside it, in the same run, the raw Object Store get throughput of the same
// object: nats.js's ObjectStore.get (one reader, and N in parallel) and the agent's direct-get
// reader (N in parallel, no verification, no load).
//   npx tsx bench/time-to-fleet.ts [agents=50]        (from apps/agent)
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, formatCreds, loadOrCreateFleetAuth, readObject } from "@edgefleet/bus";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import { silentLogger, startTestControlPlane } from "@edgefleet/control-plane/testing";
import type { FleetEvent } from "@edgefleet/protocol";
import { Objm } from "@nats-io/obj";
import WebSocket from "ws";
import pkg from "../package.json" with { type: "json" };
import { type RunningAgent, startAgent } from "../src/agent";
import { deviceRuntime } from "../src/device-runtime";

const N = Number(process.argv[2] ?? 50);
const MB = 1e6;
const stack = await startTestControlPlane({
  heartbeatIntervalMs: 5_000,
  heartbeatTimeoutMs: 60_000,
});
const model = exportOnnx(createMlp([784, 2048, 2048, 10], 1));
const { variantIds } = await stack.importModel({
  name: "wide-mlp",
  variants: [{ name: "fp32", bytes: model }],
});
const variantId = variantIds.get("fp32")!;
console.error(`artifact ${(model.length / MB).toFixed(1)} MB; starting ${N} agents…`);

const runtime = deviceRuntime({ threads: 1, simulatedClass: "" });
const dirs: string[] = [];
const agents: RunningAgent[] = [];
const token = String(
  (
    await stack.api("/api/v1/enrollment-tokens", {
      method: "POST",
      body: JSON.stringify({ maxUses: N }),
    })
  ).body.token,
);
for (let i = 0; i < N; i++) {
  const dataDir = await mkdtemp(join(tmpdir(), "ef-ttf-"));
  dirs.push(dataDir);
  // A profile measured earlier: this benchmark is about dispatch, not profiling.
  await writeFile(
    join(dataDir, "profile-stamp.json"),
    JSON.stringify({
      agentVersion: pkg.version,
      threads: 1,
      deviceClass: "",
      measuredAt: new Date().toISOString(),
    }),
  );
  agents.push(
    await startAgent({
      dataDir,
      controlPlaneGrpc: stack.cp.grpcAddress,
      enrollmentToken: token,
      name: `sim-${i}`,
      labels: {},
      agentVersion: pkg.version,
      runtime,
      logger: silentLogger,
      telemetryIntervalMs: 60_000,
    }),
  );
}
await Promise.all(agents.map((a) => a.connected));

// Raw Object Store reads of the same object, before the fleet touches it.
const auth = await loadOrCreateFleetAuth(stack.stateDir);
const readers = await Promise.all(
  Array.from({ length: N }, (_, i) =>
    connectBus({
      servers: stack.nats.url,
      name: `reader-${i}`,
      creds: formatCreds(auth.controlPlane.jwt, auth.controlPlane.seed),
    }),
  ),
);
const sha = (await import("node:crypto")).createHash("sha256").update(model).digest("hex");
const timed = async (f: () => Promise<unknown>) => {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
};
const libGet = async (i: number) => {
  const os = await new Objm(readers[i]).open("artifacts");
  const got = await os.getBlob(sha);
  if (got?.length !== model.length) throw new Error("short read");
};
const directGet = async (i: number) => {
  let bytes = 0;
  await readObject(readers[i], sha, {
    onChunk: (c) => {
      bytes += c.length;
    },
  });
  if (bytes !== model.length) throw new Error("short read");
};
const one = await timed(() => libGet(0));
const libParallel = await timed(() => Promise.all(readers.map((_, i) => libGet(i))));
const directParallel = await timed(() => Promise.all(readers.map((_, i) => directGet(i))));
await Promise.all(readers.map((r) => r.close()));

// The fleet: assign everyone, wait for every "applied" on the WebSocket stream.
const ws = new WebSocket(`${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`, {
  headers: { authorization: `Bearer ${stack.adminToken}` },
});
await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
const applied = new Map<string, number>();
let t0 = 0;
const allApplied = new Promise<void>((resolve) => {
  ws.on("message", (data) => {
    const e = JSON.parse(String(data)) as FleetEvent;
    const rep = (e.data as { reported?: { phase: string; serving?: { variantId: string } } })
      ?.reported;
    if (
      e.type === "device.state" &&
      rep?.phase === "applied" &&
      rep.serving?.variantId === variantId
    ) {
      if (!applied.has(e.deviceId)) applied.set(e.deviceId, performance.now() - t0);
      if (applied.size === N) resolve();
    }
  });
});
t0 = performance.now();
await Promise.all(
  agents.map(async (a) => {
    const res = await stack.api(`/api/v1/devices/${a.deviceId}/assignment`, {
      method: "PUT",
      body: JSON.stringify({ variantId }),
    });
    if (res.status !== 200) throw new Error(`assign: HTTP ${res.status}`);
  }),
);
const assignedMs = performance.now() - t0;
await allApplied;
const fleetS = (performance.now() - t0) / 1000;
const times = [...applied.values()].sort((a, b) => a - b);
ws.close();

const size = model.length / MB;
const rate = (s: number, copies: number) => ((size * copies) / s).toFixed(1);
console.log(`| measure | seconds | MB/s (of ${size.toFixed(1)} MB x copies) |`);
console.log("| --- | --- | --- |");
console.log(`| nats.js ObjectStore.get, 1 reader | ${one.toFixed(2)} | ${rate(one, 1)} |`);
console.log(
  `| nats.js ObjectStore.get, ${N} readers in parallel | ${libParallel.toFixed(2)} | ${rate(libParallel, N)} |`,
);
console.log(
  `| agent's direct-get reader, ${N} in parallel (no verify, no load) | ${directParallel.toFixed(2)} | ${rate(directParallel, N)} |`,
);
console.log(
  `| **time to fleet: ${N} agents, assignment to all applied** | ${fleetS.toFixed(2)} | ${rate(fleetS, N)} |`,
);
console.log("");
console.log(
  `assignments written in ${assignedMs.toFixed(0)} ms; first device applied at ${(times[0] / 1000).toFixed(2)} s, median ${(times[N >> 1] / 1000).toFixed(2)} s, last ${(times[N - 1] / 1000).toFixed(2)} s`,
);
console.log(
  `time to fleet / raw parallel ObjectStore.get = ${(fleetS / libParallel).toFixed(2)}x (goal <= 2x)`,
);

await Promise.all(agents.map((a) => a.stop()));
await stack.stop();
await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
