import { describe, expect, it } from "vitest";
import { readEnv } from "./env";

describe("readEnv: telemetry fold batching", () => {
  it.each([
    { env: {}, maxBatch: undefined, maxWaitMs: undefined },
    { env: { TELEMETRY_MAX_BATCH: "2000" }, maxBatch: 2000, maxWaitMs: undefined },
    { env: { TELEMETRY_MAX_WAIT_MS: "250" }, maxBatch: undefined, maxWaitMs: 250 },
    {
      env: { TELEMETRY_MAX_BATCH: "1", TELEMETRY_MAX_WAIT_MS: "60000" },
      maxBatch: 1,
      maxWaitMs: 60_000,
    },
  ])("reads $env", ({ env, maxBatch, maxWaitMs }) => {
    const read = readEnv(env);
    expect([read.TELEMETRY_MAX_BATCH, read.TELEMETRY_MAX_WAIT_MS]).toEqual([maxBatch, maxWaitMs]);
  });

  it.each([
    { env: { TELEMETRY_MAX_BATCH: "0" }, field: "TELEMETRY_MAX_BATCH" },
    { env: { TELEMETRY_MAX_BATCH: "10001" }, field: "TELEMETRY_MAX_BATCH" },
    { env: { TELEMETRY_MAX_BATCH: "lots" }, field: "TELEMETRY_MAX_BATCH" },
    { env: { TELEMETRY_MAX_BATCH: "2.5" }, field: "TELEMETRY_MAX_BATCH" },
    { env: { TELEMETRY_MAX_WAIT_MS: "0" }, field: "TELEMETRY_MAX_WAIT_MS" },
    { env: { TELEMETRY_MAX_WAIT_MS: "-5" }, field: "TELEMETRY_MAX_WAIT_MS" },
    { env: { TELEMETRY_MAX_WAIT_MS: "soon" }, field: "TELEMETRY_MAX_WAIT_MS" },
  ])("refuses $env naming $field", ({ env, field }) => {
    expect(() => readEnv(env)).toThrow(new RegExp(`^invalid environment: ${field}: `));
  });
});
