// How fast the control plane can ingest telemetry in one process: `npm run bench` here.
// 1,000 devices x 50 five-second windows, each window 50-500 answered requests. Best and median
// of a few runs; this machine is shared, so read ratios more than absolutes.
import { DDSketch } from "@datadog/sketches-js";
import { type Telemetry, telemetrySchema } from "@edgefleet/protocol";
import {
  addRollup,
  type Cursor,
  foldTelemetry,
  LatencySketch,
  mergeRollup,
  type RollupDelta,
  toStoredRollup,
} from "../src/index";
import { syntheticTelemetry } from "../src/test-fixtures";

const DEVICES = 1000;
const WINDOWS = 50;
const RUNS = 5;
const BATCH = 1000;

function build(): { wire: string[]; messages: { deviceId: string; message: Telemetry }[] } {
  const all = syntheticTelemetry({ devices: DEVICES, windows: WINDOWS });
  return { wire: all.map((m) => m.wire), messages: all };
}

/** Best and median of RUNS, in items per second. */
function measure(label: string, items: number, fn: () => unknown): number {
  const secs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    fn();
    secs.push((performance.now() - t) / 1000);
  }
  secs.sort((a, b) => a - b);
  const best = items / secs[0];
  const median = items / secs[Math.floor(RUNS / 2)];
  console.log(`${label.padEnd(58)} best ${fmt(best)}/s  median ${fmt(median)}/s`);
  return median;
}

const rowKey = (d: RollupDelta) => `${d.deviceId} ${d.variantId} ${d.minute.getTime()}`;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(10);

function foldInBatches(messages: { deviceId: string; message: Telemetry }[], size: number) {
  let cursors = new Map<string, Cursor>();
  const deltas: RollupDelta[] = [];
  for (let i = 0; i < messages.length; i += size) {
    const r = foldTelemetry(messages.slice(i, i + size), cursors);
    cursors = new Map([...cursors, ...r.cursors]);
    deltas.push(...r.deltas);
  }
  return deltas;
}

const t = performance.now();
const { wire, messages } = build();
const n = messages.length;
const avg = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
const sketchBytes = messages.map((m) => Buffer.from(m.message.latency!.sketch, "base64"));
console.log(
  `${n} messages from ${DEVICES} devices built in ${((performance.now() - t) / 1000).toFixed(1)} s; ` +
    `JSON ${avg(wire.map((w) => w.length))} B, latency sketch ${avg(sketchBytes.map((b) => b.length))} B ` +
    `(${avg(messages.map((m) => m.message.latency!.count))} values), run sketch ` +
    `${avg(messages.map((m) => Buffer.from(m.message.runBatch1!.sketch, "base64").length))} B`,
);
console.log(`node ${process.version}, ${RUNS} runs each\n`);

measure("(a) JSON.parse + telemetrySchema.parse", n, () => {
  for (const w of wire) telemetrySchema.parse(JSON.parse(w));
});
measure("    JSON.parse alone", n, () => {
  for (const w of wire) JSON.parse(w);
});
measure("(b) sketch decode, latency + run (LatencySketch.fromSummary)", n, () => {
  for (const { message: m } of messages) {
    LatencySketch.fromSummary(m.latency!);
    LatencySketch.fromSummary(m.runBatch1!);
  }
});
measure("    for comparison: sketches-js DDSketch.fromProto, latency only", n, () => {
  for (const b of sketchBytes) DDSketch.fromProto(b);
});

const small = foldInBatches(messages, BATCH);
const whole = foldInBatches(messages, n);
measure(`(c) foldTelemetry, batches of ${BATCH} (${small.length} deltas)`, n, () =>
  foldInBatches(messages, BATCH),
);
measure(`    foldTelemetry, one batch of ${n} (${whole.length} deltas)`, n, () =>
  foldInBatches(messages, n),
);

// Every delta lands on a row that already holds part of its minute, the usual case at 5 s windows.
for (const [label, deltas] of [
  [`batches of ${BATCH}`, small],
  ["one batch", whole],
] as const) {
  const existing = deltas.map(toStoredRollup);
  const perMessage = n / deltas.length;
  const rate = measure(`(d) mergeRollup, deltas of ${label} (deltas/s)`, deltas.length, () => {
    for (let i = 0; i < deltas.length; i++) mergeRollup(existing[i], deltas[i]);
  });
  console.log(`${"    = messages/s".padEnd(58)}      ${fmt(rate * perMessage)}/s`);
}

// The alternative to a read-modify-write per delta: rows of the open minutes stay in memory as
// sketches, and each is encoded once when written (here once, at the end).
measure(`(e) write-behind: fold, addRollup into open rows, encode once`, n, () => {
  const open = new Map<string, RollupDelta>();
  for (const d of foldInBatches(messages, BATCH)) {
    const key = rowKey(d);
    const row = open.get(key);
    if (row) addRollup(row, d);
    else open.set(key, d);
  }
  for (const row of open.values()) toStoredRollup(row);
});

// What the database would return for each row the batch touches.
const stored = new Map(small.map((d) => [rowKey(d), toStoredRollup(d)]));
measure(`all of it: parse, fold in batches of ${BATCH}, mergeRollup`, n, () => {
  let cursors = new Map<string, Cursor>();
  for (let i = 0; i < n; i += BATCH) {
    const batch = wire.slice(i, i + BATCH).map((w, k) => ({
      deviceId: messages[i + k].deviceId,
      message: telemetrySchema.parse(JSON.parse(w)),
    }));
    const r = foldTelemetry(batch, cursors);
    cursors = new Map([...cursors, ...r.cursors]);
    for (const d of r.deltas) mergeRollup(stored.get(rowKey(d)), d);
  }
});
