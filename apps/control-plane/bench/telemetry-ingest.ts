// Telemetry ingest: messages per second that one control-plane process folds into rollups (the
// real consumer, TelemetryService and Postgres: decode, fold exactly once by cursor, rollups and
// cursors written in one transaction per batch, acked after it commits), beside the raw NATS rate
// measured on the same stream in the same run: a consumer with the same settings that only acks.
//
// The stream is filled first (publish rate printed), then each consumer drains it from the start
// on its own durable. Messages are realistic agent windows (5 s, 50-500 requests each, two
// DDSketches, ~3.5 KB of JSON), interleaved by time as devices send them; every device exists.
//
//   npm run bench:ingest -w @edgefleet/control-plane -- --devices 2000 --windows 50
// Heavy: run it alone (no tests beside it).
import { parseArgs } from "node:util";
import { ensureStreams } from "@edgefleet/bus";
import { createPrisma, createRepos } from "@edgefleet/db";
import { createTestDatabase } from "@edgefleet/db/testing";
import { STREAMS, subjects } from "@edgefleet/protocol";
import type { FoldInput } from "@edgefleet/telemetry";
import { syntheticTelemetry } from "@edgefleet/telemetry/test-fixtures";
import { startNatsServer } from "@edgefleet/testkit";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { FleetEvents } from "../src/fleet-events";
import { ControlPlaneMetrics } from "../src/metrics";
import { startTelemetryConsumer } from "../src/nats/telemetry-consumer";
import { TelemetryService } from "../src/services/telemetry-service";

const { values: args } = parseArgs({
  options: {
    devices: { type: "string", default: "2000" },
    windows: { type: "string", default: "50" },
    "max-batch": { type: "string", default: "500" },
  },
});
const DEVICES = Number(args.devices);
const WINDOWS = Number(args.windows);
const MAX_BATCH = Number(args["max-batch"]);
const progress = (line: string) => process.stderr.write(`\r${line.padEnd(90)}`);
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const fmt = (n: number) => n.toLocaleString("en-US");

const deviceIds = Array.from({ length: DEVICES }, () => crypto.randomUUID());
progress(`building ${fmt(DEVICES * WINDOWS)} messages…`);
const messages = syntheticTelemetry({ devices: DEVICES, windows: WINDOWS, deviceIds });
const N = messages.length;
const encoder = new TextEncoder();
const wire = messages.map((m) => encoder.encode(m.wire));
const avgBytes = Math.round(wire.reduce((a, w) => a + w.length, 0) / N);

const db = await createTestDatabase();
const prisma = createPrisma(db.url);
const repos = createRepos(prisma);
await repos.devices.createMany(
  deviceIds.map((id, i) => ({
    id,
    name: `bench-${i}`,
    publicKey: `U${id.replaceAll("-", "").toUpperCase()}`.padEnd(56, "A"),
    arch: "arm64",
    cores: 4,
    ramBytes: 4 * 2 ** 30,
    cpuModel: "Cortex-A72",
    cpuFlags: [],
    accelerators: [],
    agentVersion: "bench",
    facts: {},
    simulated: true,
    deviceClass: "rpi4",
  })),
);

const server = await startNatsServer({ jetstream: true });
const nc = await connect({ servers: server.url });
await ensureStreams(nc);
const js = jetstream(nc);

// 1. Fill the stream: publishes in flight, 1,000 at a time.
let t = performance.now();
for (let i = 0; i < N; i += 1000) {
  const acks = [];
  for (let k = i; k < Math.min(N, i + 1000); k++) {
    acks.push(js.publish(subjects.telemetry(messages[k].deviceId), wire[k]));
  }
  await Promise.all(acks);
  progress(`publishing ${fmt(Math.min(N, i + 1000))} / ${fmt(N)}`);
}
const publishMs = performance.now() - t;

// 2. Raw NATS: the same consumer settings as the control plane's, acking each message unread.
const jsm = await jetstreamManager(nc);
await jsm.consumers.add(STREAMS.telemetry.name, {
  durable_name: "bench-raw",
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  max_ack_pending: 20_000,
});
t = performance.now();
const raw = await js.consumers.get(STREAMS.telemetry.name, "bench-raw");
const rawMessages = await raw.consume({ max_messages: Math.max(1000, MAX_BATCH * 2) });
let seen = 0;
for await (const m of rawMessages) {
  m.ack();
  if (++seen % 5000 === 0) progress(`raw consume ${fmt(seen)} / ${fmt(N)}`);
  if (seen === N) break;
}
const rawMs = performance.now() - t;
await rawMessages.close();

// 3. Ingest: the control plane's consumer and service on the same stream, from the start.
const metrics = new ControlPlaneMetrics();
const service = new TelemetryService({ repos, events: new FleetEvents(), metrics });
let folded = 0;
const counting = {
  async ingest<T extends FoldInput>(batch: ReadonlyArray<T>) {
    const r = await service.ingest(batch);
    folded += r.folded + r.duplicates + r.noVariant + r.unknownDevice;
    return r;
  },
};
const cpuBefore = process.cpuUsage();
t = performance.now();
const consumer = await startTelemetryConsumer(nc, counting, pino({ level: "warn" }), metrics, {
  maxBatch: MAX_BATCH,
});
while (folded < N) {
  await new Promise((r) => setTimeout(r, 50));
  progress(`ingest ${fmt(folded)} / ${fmt(N)}`);
}
const ingestMs = performance.now() - t;
const cpu = process.cpuUsage(cpuBefore);
await consumer.stop();
process.stderr.write("\n");

const rows = await prisma.telemetryRollup.count();
const sums = await prisma.telemetryRollup.aggregate({ _sum: { messages: true, requests: true } });
const expectedRequests = messages.reduce((a, m) => a + m.message.requests, 0);
if (sums._sum.messages !== N || sums._sum.requests !== expectedRequests) {
  throw new Error(
    `rollups hold ${sums._sum.messages} messages / ${sums._sum.requests} requests, ` +
      `expected ${N} / ${expectedRequests}`,
  );
}

console.log(`telemetry ingest, node ${process.version}: ${fmt(N)} messages`);
console.log(`  ${fmt(DEVICES)} devices x ${WINDOWS} five-second windows, ${fmt(avgBytes)} B each`);
console.log(`  consumer batches of up to ${MAX_BATCH}; rollups: ${fmt(rows)} rows`);
console.log("");
console.log("| stage | time | msgs/s |");
console.log("|---|---:|---:|");
console.log(
  `| publish into the stream (JetStream acks) | ${(publishMs / 1000).toFixed(1)} s | ${fmt(rate(N, publishMs))} |`,
);
console.log(
  `| raw NATS: consume + ack, nothing read | ${(rawMs / 1000).toFixed(1)} s | ${fmt(rate(N, rawMs))} |`,
);
console.log(
  `| ingest: decode, fold, Postgres, ack | ${(ingestMs / 1000).toFixed(1)} s | ${fmt(rate(N, ingestMs))} |`,
);
console.log("");
console.log(
  `ingest / raw NATS = ${(rawMs / ingestMs).toFixed(2)}; control-plane CPU during ingest ` +
    `${((cpu.user + cpu.system) / 1000 / ingestMs).toFixed(2)} cores; every message and request ` +
    "accounted for in the rollups",
);

await nc.close();
await server.stop();
await prisma.$disconnect();
await db.drop();
