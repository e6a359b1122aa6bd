import { describe, expect, it } from "vitest";
import { INT4_MAX, MAX_EPOCH_MS } from "./bounds";
import { decodeJson, deviceEventSchema, heartbeatSchema } from "./messages";
import { telemetrySchema } from "./telemetry";

const telemetry = {
  version: 1,
  epoch: 1,
  seq: 1,
  windowStart: 1_700_000_000_000,
  windowEnd: 1_700_000_005_000,
  variantId: "00000000-0000-4000-8000-000000000001",
  generation: 1,
  requests: 10,
  errors: 0,
  rejected: 0,
  latency: { sketch: "", count: 1, sumMs: 2, minMs: 2, maxMs: 2 },
  runBatch1: null,
  runs: 10,
  samples: 10,
  queueDepth: 0,
  queueDepthMax: 0,
  cpuPercent: 50,
  rssBytes: 1e8,
  simulated: false,
  deviceClass: "",
  droppedBefore: 0,
};
const state = {
  type: "state",
  sentAt: 1_700_000_000_000,
  generation: 1,
  phase: "applied",
  serving: null,
};
const facts = {
  type: "facts",
  sentAt: 1_700_000_000_000,
  agentVersion: "1",
  facts: {
    arch: "x64",
    cores: 2,
    ramTotalBytes: 1e9,
    ramFreeBytes: 1e9,
    cpuModel: "c",
    cpuFlags: [],
    accelerators: [],
    os: "linux",
    simulated: false,
    deviceClass: "",
  },
};

/** The message as JSON text with `path` set to `raw` (raw JSON text: 1e999 parses as Infinity). */
function withField(message: object, path: string, raw: string): Uint8Array {
  const copy = structuredClone(message) as Record<string, unknown>;
  const keys = path.split(".");
  let at = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  at[keys.at(-1) as string] = "@@RAW@@";
  return new TextEncoder().encode(JSON.stringify(copy).replace('"@@RAW@@"', raw));
}

describe("bounds of stored device messages", () => {
  it.each([
    // Values Postgres would refuse (integer columns, timestamps, NUL in text) or JS mangles.
    [telemetry, "epoch", String(INT4_MAX + 1)],
    [telemetry, "seq", String(INT4_MAX + 1)],
    [telemetry, "requests", "3000000000"],
    [telemetry, "queueDepthMax", "1e300"],
    [telemetry, "windowStart", String(MAX_EPOCH_MS + 1)],
    [telemetry, "windowEnd", "8640000000000000"],
    [telemetry, "rssBytes", "9007199254740993"],
    [telemetry, "cpuPercent", "1e999"],
    [telemetry, "latency.count", String(INT4_MAX + 1)],
    [telemetry, "latency.maxMs", "1e999"],
    [telemetry, "latency.sumMs", "1e300"],
    [state, "generation", String(INT4_MAX + 1)],
    [state, "sentAt", "8640000000000000"],
    [state, "error", '"bad\\u0000"'],
    [state, "step", '"\\u0000"'],
    [facts, "facts.cpuModel", '"x\\u0000y"'],
    [facts, "facts.ramTotalBytes", "1e300"],
    [facts, "agentVersion", '"\\u0000"'],
  ])("refuses %# %s = %s naming the field", (message, path, raw) => {
    const schema = message === telemetry ? telemetrySchema : deviceEventSchema;
    expect(() => decodeJson(schema as never, withField(message, path, raw))).toThrow(
      new RegExp(`^${path.replace(".", "\\.")}:`),
    );
  });

  it.each([
    [telemetry, "epoch", String(INT4_MAX)],
    [telemetry, "windowEnd", String(MAX_EPOCH_MS)],
    [telemetry, "rssBytes", String(Number.MAX_SAFE_INTEGER)],
    [state, "error", '"ünïcode \\ud83d\\ude00"'],
    [state, "generation", String(INT4_MAX)],
  ])("takes %# %s = %s (the largest that fits)", (message, path, raw) => {
    const schema = message === telemetry ? telemetrySchema : deviceEventSchema;
    expect(() => decodeJson(schema as never, withField(message, path, raw))).not.toThrow();
  });

  it("refuses a heartbeat sent after the year 9999", () => {
    const hb = { seq: 1, sentAt: 1, agentVersion: "1", uptimeS: 0 };
    expect(() => decodeJson(heartbeatSchema, withField(hb, "sentAt", "1e16"))).toThrow(/^sentAt:/);
  });
});
