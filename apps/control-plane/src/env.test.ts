import { describe, expect, it } from "vitest";
import { readEnv } from "./env";

describe("readEnv: enrollment rate limits", () => {
  it("defaults to 120/1m per source, 600/1m per token, nobody exempt", () => {
    const env = readEnv({});
    expect(env.ENROLL_RATE_PER_SOURCE).toEqual({ count: 120, periodMs: 60_000 });
    expect(env.ENROLL_RATE_PER_TOKEN).toEqual({ count: 600, periodMs: 60_000 });
    expect(env.ENROLL_RATE_EXEMPT).toEqual([]);
  });

  it("parses what is given", () => {
    const env = readEnv({
      ENROLL_RATE_PER_SOURCE: "10/30s",
      ENROLL_RATE_PER_TOKEN: "5/h",
      ENROLL_RATE_EXEMPT: "127.0.0.0/8, ::1",
    });
    expect(env.ENROLL_RATE_PER_SOURCE).toEqual({ count: 10, periodMs: 30_000 });
    expect(env.ENROLL_RATE_PER_TOKEN).toEqual({ count: 5, periodMs: 3_600_000 });
    expect(env.ENROLL_RATE_EXEMPT).toEqual(["127.0.0.0/8", "::1"]);
  });

  it.each([
    [
      "ENROLL_RATE_PER_SOURCE",
      "120 per minute",
      /ENROLL_RATE_PER_SOURCE: .*must look like 120\/1m/,
    ],
    ["ENROLL_RATE_PER_TOKEN", "0/1m", /ENROLL_RATE_PER_TOKEN: .*must look like 120\/1m/],
    ["ENROLL_RATE_EXEMPT", "127.0.0.1,localhost", /ENROLL_RATE_EXEMPT: "localhost" is not an IP/],
  ])("%s=%j is refused naming the variable", (name, value, message) => {
    expect(() => readEnv({ [name]: value })).toThrow(message);
  });
});

describe("readEnv: NATS servers", () => {
  it("takes a cluster's nodes, comma separated, for the control plane and for devices", () => {
    const env = readEnv({
      NATS_URL: "nats://10.0.0.1:4222, nats://10.0.0.2:4222,nats://10.0.0.3:4222",
      NATS_PUBLIC_URLS: "nats://edge-a:4222,nats://edge-b:4222",
    });
    expect(env.NATS_URL).toEqual([
      "nats://10.0.0.1:4222",
      "nats://10.0.0.2:4222",
      "nats://10.0.0.3:4222",
    ]);
    expect(env.NATS_PUBLIC_URLS).toEqual(["nats://edge-a:4222", "nats://edge-b:4222"]);
  });

  it("defaults to one local server and no public list", () => {
    const env = readEnv({});
    expect(env.NATS_URL).toEqual(["nats://127.0.0.1:4222"]);
    expect(env.NATS_PUBLIC_URLS).toBeUndefined();
  });

  it.each([
    [{ NATS_URL: "nats://a:4222,http://b:80" }, /NATS_URL: .*"http:\/\/b:80" is not a NATS URL/],
    [{ NATS_PUBLIC_URLS: " , " }, /NATS_PUBLIC_URLS: .*no NATS server given/],
  ])("refuses %j, naming the variable", (source, message) => {
    expect(() => readEnv(source)).toThrow(message);
  });
});

describe("readEnv: telemetry fold batching", () => {
  it("defaults to 500 messages or 100 ms, and reads both", () => {
    expect([readEnv({}).TELEMETRY_MAX_BATCH, readEnv({}).TELEMETRY_MAX_WAIT_MS]).toEqual([
      500, 100,
    ]);
    const env = readEnv({ TELEMETRY_MAX_BATCH: "2000", TELEMETRY_MAX_WAIT_MS: "250" });
    expect([env.TELEMETRY_MAX_BATCH, env.TELEMETRY_MAX_WAIT_MS]).toEqual([2000, 250]);
  });

  it.each([
    ["TELEMETRY_MAX_BATCH", "0"],
    ["TELEMETRY_MAX_BATCH", "lots"],
    ["TELEMETRY_MAX_BATCH", "2.5"],
    ["TELEMETRY_MAX_WAIT_MS", "0"],
    ["TELEMETRY_MAX_WAIT_MS", "soon"],
  ])("refuses %s=%s, naming the variable", (field, value) => {
    expect(() => readEnv({ [field]: value })).toThrow(
      new RegExp(`^invalid environment: ${field}: `),
    );
  });
});
