// Fuzz (issue 11): malformed telemetry, events and heartbeats from real device identities. Each bad
// message must be refused (counted, terminated: never redelivered), store nothing, and never hold
// back the good messages sent after it.
import { closeBus } from "@edgefleet/bus";
import { createPrisma, type PrismaClient } from "@edgefleet/db";
import { encodeJson, STREAMS, subjects } from "@edgefleet/protocol";
import { referenceProfile } from "@edgefleet/runtime/facts";
import { until } from "@edgefleet/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TELEMETRY_CONSUMER } from "../nats/telemetry-consumer";
import { startTestControlPlane, type TestControlPlane } from "../testing";
import {
  badCount,
  badInteger,
  badText,
  badTime,
  fuzzParams,
  metricValue,
  notJson,
  tableCounts,
  withRaw,
} from "./fuzz-kit";

const VARIANT = "00000000-0000-4000-8000-0000000000f1";
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);

function telemetry(seq: number, over: Record<string, unknown> = {}) {
  // One minute per message: a rollup row each, so counters never add up past a column.
  const windowStart = T0 + seq * MINUTE;
  return {
    version: 1,
    epoch: 1,
    seq,
    windowStart,
    windowEnd: windowStart + 5_000,
    variantId: VARIANT,
    generation: 1,
    requests: 10,
    errors: 1,
    rejected: 0,
    latency: null,
    runBatch1: null,
    runs: 10,
    samples: 10,
    queueDepth: 0,
    queueDepthMax: 2,
    cpuPercent: 40,
    rssBytes: 50_000_000,
    simulated: false,
    deviceClass: "",
    droppedBefore: 0,
    shadow: null,
    ...over,
  };
}

const COUNT_FIELDS = [
  "epoch",
  "seq",
  "generation",
  "requests",
  "errors",
  "rejected",
  "runs",
  "samples",
  "queueDepth",
  "queueDepthMax",
  "droppedBefore",
];
const badTelemetry: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  notJson,
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .tuple(fc.constantFrom(...COUNT_FIELDS), badCount)
    .map(([f, raw]) => withRaw(telemetry(0), f, raw)),
  fc
    .tuple(fc.constantFrom("windowStart", "windowEnd"), badTime)
    .map(([f, raw]) => withRaw(telemetry(0), f, raw)),
  fc
    .constantFrom("version", "deviceClass", "simulated")
    .chain((f) => badText.map((raw) => withRaw(telemetry(0), f, raw))),
  // Nullable fields: anything but null.
  fc
    .constantFrom("variantId", "latency")
    .chain((f) =>
      badText.filter((raw) => raw !== "null").map((raw) => withRaw(telemetry(0), f, raw)),
    ),
  fc
    .constantFrom("cpuPercent", "version", "requests")
    .map((f) => withRaw(telemetry(0), f, undefined)),
  badInteger.map((raw) => withRaw(telemetry(0), "rssBytes", raw)),
  fc.constantFrom("1e999", "-1", "409601").map((raw) => withRaw(telemetry(0), "cpuPercent", raw)),
  // A huge array where a number goes (still under NATS's 1 MiB payload).
  fc.constant(withRaw(telemetry(0), "requests", JSON.stringify(new Array(100_000).fill(1)))),
);

function stateReport(generation: number, over: Record<string, unknown> = {}) {
  return {
    type: "state",
    sentAt: T0 + generation,
    generation,
    phase: "applied",
    serving: null,
    ...over,
  };
}
const badState: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  notJson,
  fc
    .tuple(fc.constantFrom("generation"), badCount)
    .map(([f, raw]) => withRaw(stateReport(5), f, raw)),
  badTime.map((raw) => withRaw(stateReport(5), "sentAt", raw)),
  fc
    .constantFrom("phase", "step", "error", "type")
    .chain((f) => badText.map((raw) => withRaw(stateReport(5), f, raw))),
  badCount.map((raw) =>
    withRaw(
      stateReport(5, { canary: { digest: "a".repeat(64), samples: 1, correct: 1 } }),
      "canary.samples",
      raw,
    ),
  ),
  badText.map((raw) =>
    withRaw(
      stateReport(5, { serving: { generation: 1, variantId: VARIANT, digest: "a".repeat(64) } }),
      "serving.variantId",
      raw,
    ),
  ),
);

describe("fuzz: device messages on NATS", { timeout: 60_000 }, () => {
  let t: TestControlPlane;
  let prisma: PrismaClient;
  /** The control plane's own identity, to look at consumers (devices may not). */
  let observer: NatsConnection;
  let a: Awaited<ReturnType<TestControlPlane["enrollDevice"]>>;
  let b: Awaited<ReturnType<TestControlPlane["enrollDevice"]>>;
  const tried: Record<string, number> = {};

  beforeAll(async () => {
    t = await startTestControlPlane();
    prisma = createPrisma(t.db.url);
    a = await t.enrollDevice("fuzz-a");
    b = await t.enrollDevice("fuzz-b");
    observer = await t.controlPlaneBus("fuzz-observer");
  });
  afterAll(async () => {
    console.log(`fuzz inputs tried (NATS): ${JSON.stringify(tried)}`);
    if (observer) await closeBus(observer);
    await prisma?.$disconnect();
    await t?.stop();
  });

  const counter = (name: string, labels: Record<string, string>) =>
    metricValue(t.cp.httpUrl, name, labels);
  const malformedTelemetry = () =>
    counter("edgefleet_telemetry_messages_total", { outcome: "malformed" });
  const droppedEvents = () =>
    counter("edgefleet_nats_messages_total", { kind: "event", outcome: "dropped" });
  const cursorSeq = async (deviceId: string) =>
    (await prisma.telemetryCursor.findUnique({ where: { deviceId } }))?.seq;
  const reported = (deviceId: string) =>
    prisma.deviceReportedState.findUnique({ where: { deviceId } });

  it("telemetry: each bad message is counted and dropped; the good one after it folds", async () => {
    const js = jetstream(a.nc);
    let seq = 0;
    await fc.assert(
      fc.asyncProperty(badTelemetry, async (bad) => {
        tried.telemetry = (tried.telemetry ?? 0) + 1;
        const before = await malformedTelemetry();
        await js.publish(subjects.telemetry(a.deviceId), bad);
        seq += 1;
        await js.publish(subjects.telemetry(a.deviceId), encodeJson(telemetry(seq)));
        await until(`good telemetry ${seq} folded`, async () =>
          (await cursorSeq(a.deviceId)) === seq ? true : undefined,
        );
        expect(await malformedTelemetry()).toBe(before + 1);
      }),
      fuzzParams(120),
    );
    // Only the good messages are in the rollups; nothing waits for an ack or was redelivered.
    const rows = await prisma.telemetryRollup.findMany({ where: { deviceId: a.deviceId } });
    expect(rows.reduce((n, r) => n + r.messages, 0)).toBe(seq);
    expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(10 * seq);
    await expectSettled(STREAMS.telemetry.name, TELEMETRY_CONSUMER);
  });

  /** Every message of the consumer acknowledged or terminated, none delivered twice. */
  const expectSettled = async (stream: string, consumer: string) => {
    const info = await until(`${consumer} settled`, async () => {
      const i = await (await jetstreamManager(observer)).consumers.info(stream, consumer);
      return i.num_ack_pending === 0 ? i : undefined;
    });
    expect(info.num_redelivered).toBe(0);
  };

  it("state reports: a bad one is dropped alone; a good one of another device in its batch is stored at once", async () => {
    const [jsA, jsB] = [jetstream(a.nc), jetstream(b.nc)];
    await jsA.publish(subjects.events(a.deviceId), encodeJson(stateReport(1)));
    await until("baseline report", async () => ((await reported(a.deviceId)) ? true : undefined));
    const baseline = await reported(a.deviceId);
    let generation = 0;
    await fc.assert(
      fc.asyncProperty(badState, async (bad) => {
        tried.stateReports = (tried.stateReports ?? 0) + 1;
        const before = await droppedEvents();
        generation += 1;
        // Published together: they land in one micro-batch (20 ms).
        await Promise.all([
          jsA.publish(subjects.events(a.deviceId), bad),
          jsB.publish(subjects.events(b.deviceId), encodeJson(stateReport(generation))),
        ]);
        // Well before a redelivery (2 s): the good report was not held back by the bad one.
        await until(
          `good report ${generation} stored`,
          async () => ((await reported(b.deviceId))?.generation === generation ? true : undefined),
          1_500,
          10,
        );
        expect(await droppedEvents()).toBe(before + 1);
      }),
      fuzzParams(80),
    );
    expect(await reported(a.deviceId)).toEqual(baseline);
    await expectSettled(STREAMS.events.name, "control-plane-events");
  });

  it("events: facts and profiles the database would refuse are dropped, not redelivered", async () => {
    const js = jetstream(a.nc);
    const profile = referenceProfile("rpi4", { agentVersion: "fuzz" });
    const facts = {
      arch: "x64",
      cores: 2,
      ramTotalBytes: 8e9,
      ramFreeBytes: 4e9,
      cpuModel: "fuzz",
      cpuFlags: [],
      accelerators: [],
      os: "linux",
      simulated: false,
      deviceClass: "",
    };
    const factsEvent = { type: "facts", sentAt: T0, agentVersion: "fuzz", facts };
    const profileEvent = {
      type: "profile",
      sentAt: T0,
      agentVersion: "fuzz",
      trigger: "request",
      profile,
    };
    const badEvent = fc.oneof(
      fc
        .constantFrom("facts.cpuModel", "facts.arch", "facts.os", "agentVersion")
        .chain((f) => badText.map((raw) => withRaw(factsEvent, f, raw))),
      fc
        .constantFrom("facts.ramTotalBytes", "facts.cores")
        .chain((f) => badInteger.map((raw) => withRaw(factsEvent, f, raw))),
      badTime.map((raw) => withRaw(factsEvent, "sentAt", raw)),
      // jsonb refuses NUL anywhere, also deep in what the schema leaves open.
      fc.constant(withRaw(profileEvent, "profile.simulation", '{"note":"\\u0000"}')),
      fc
        .constantFrom('"yesterday"', '"+275760-09-13T00:00:00.000Z"', "1")
        .map((raw) => withRaw(profileEvent, "profile.measuredAt", raw)),
      fc
        .constantFrom("started", "stopping", "nope")
        .map((type) => JSON.stringify({ type, sentAt: "x" })),
    );
    const rowsBefore = await tableCounts(prisma);
    const deviceBefore = await prisma.device.findUnique({ where: { id: a.deviceId } });
    const before = await droppedEvents();
    const samples = fc.sample(badEvent, { seed: fuzzParams(1).seed, numRuns: 60 });
    for (const bad of samples) await js.publish(subjects.events(a.deviceId), bad);
    tried.events = samples.length;
    await until("every bad event dropped", async () =>
      (await droppedEvents()) === before + samples.length ? true : undefined,
    );
    await expectSettled(STREAMS.events.name, "control-plane-events");
    const { Device: _seen, ...rowsAfter } = await tableCounts(prisma);
    const { Device: _seenBefore, ...rowsExpected } = rowsBefore;
    expect(rowsAfter).toEqual(rowsExpected);
    const after = await prisma.device.findUnique({ where: { id: a.deviceId } });
    expect({ ...after, lastSeenAt: null, status: null }).toEqual({
      ...deviceBefore,
      lastSeenAt: null,
      status: null,
    });
  });

  it("heartbeats: bad ones mark nothing seen; another device's subject is refused", async () => {
    const hb = { seq: 1, sentAt: T0, agentVersion: "fuzz", uptimeS: 1 };
    const badBeat = fc.oneof(
      notJson,
      badInteger.map((raw) => withRaw(hb, "seq", raw)),
      badTime.map((raw) => withRaw(hb, "sentAt", raw)),
      badText.map((raw) => withRaw(hb, "agentVersion", raw)),
    );
    const lastSeen = async () =>
      (await prisma.device.findUnique({ where: { id: a.deviceId } }))?.lastSeenAt ?? null;
    const beats = () =>
      counter("edgefleet_nats_messages_total", { kind: "heartbeat", outcome: "dropped" });
    const seenBefore = await lastSeen();
    const before = await beats();
    const samples = fc.sample(badBeat, { seed: fuzzParams(1).seed, numRuns: 100 });
    for (const bad of samples) a.nc.publish(subjects.heartbeat(a.deviceId), bad);
    await a.nc.flush();
    tried.heartbeats = samples.length;
    await until("bad heartbeats counted", async () =>
      (await beats()) === before + samples.length ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 400)); // past a heartbeat micro-batch (250 ms)
    expect(await lastSeen()).toEqual(seenBefore);

    // Device a cannot speak for b: the server refuses the subject (its JWT allows its own only).
    const bBefore = await cursorSeq(b.deviceId);
    await expect(
      jetstream(a.nc).publish(subjects.telemetry(b.deviceId), encodeJson(telemetry(1)), {
        timeout: 1_000,
      }),
    ).rejects.toThrow();
    expect(await cursorSeq(b.deviceId)).toBe(bBefore);
    tried.otherDevice = 1;
  });
});
