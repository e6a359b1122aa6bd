// The only place the control plane reads the environment.
import { natsServers } from "@edgefleet/bus";
import { z } from "zod";
import { parseAddressList, parseRate } from "./services/rate-limit";

/** A zod string parsed by `parse`, whose thrown error becomes the issue's message. */
const parsed = <T>(parse: (text: string) => T) =>
  z.string().transform((text, ctx) => {
    try {
      return parse(text);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  });

/** Comma-separated NATS URLs (a cluster's nodes, so clients fail over) -> a list. */
const natsServerList = (field: string) => parsed((v) => natsServers(v, field));

const envSchema = z.object({
  DATABASE_URL: z.string().url().default("postgresql://postgres@127.0.0.1:5432/edgefleet"),
  /** NATS the control plane connects to: one URL or a cluster's nodes, comma separated. */
  NATS_URL: natsServerList("NATS_URL").default(["nats://127.0.0.1:4222"]),
  /** URLs handed to devices at enrollment (comma separated); defaults to NATS_URL. */
  NATS_PUBLIC_URLS: natsServerList("NATS_PUBLIC_URLS").optional(),
  /** "true" when NATS runs with the fleet operator config (the control plane then uses its own
   * user credentials from STATE_DIR); "false" for a plain server without auth. */
  NATS_AUTH: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  /** Replicas of the JetStream streams, KV and Object Store (3 on a 3-node cluster). */
  NATS_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** Edge sites (issue 11), comma separated: their leaf JetStream domains feed the hub's streams. */
  EDGE_SITES: z.string().default(""),
  STATE_DIR: z.string().default(".edgefleet/control-plane"),
  HTTP_HOST: z.string().default("127.0.0.1"),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  GRPC_HOST: z.string().default("127.0.0.1"),
  GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(50051),
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).default(5000),
  /** A device is offline when no heartbeat arrived for this long. */
  HEARTBEAT_TIMEOUT_MS: z.coerce.number().int().min(200).default(15000),
  /** Lifetime of a device's NATS user JWT; agents renew it at about 2/3 of that. */
  DEVICE_JWT_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .default(24 * 3600),
  BOOTSTRAP_ENROLLMENT_TOKEN_FILE: z.string().optional(),
  /** The built web console to serve at `/` (default: apps/console/dist of this clone). */
  CONSOLE_DIR: z.string().min(1).optional(),
  /** Largest artifact upload accepted, in bytes. */
  MAX_ARTIFACT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(512 * 2 ** 20),
  /** Enrollments allowed per source address (gRPC peer), e.g. 120/1m; a burst of the count. */
  ENROLL_RATE_PER_SOURCE: parsed(parseRate).default(parseRate("120/1m")),
  /** Enrollments allowed per enrollment token. */
  ENROLL_RATE_PER_TOKEN: parsed(parseRate).default(parseRate("600/1m")),
  /** Addresses and CIDR blocks never limited (comma separated), e.g. 127.0.0.0/8,::1. */
  ENROLL_RATE_EXEMPT: parsed(parseAddressList).default([]),
  /** The controllers' lease time to live: how long a dead holder blocks a successor. */
  LEASE_TTL_MS: z.coerce.number().int().min(300).default(10_000),
  /** Rollout controller tick. */
  CONTROLLER_TICK_MS: z.coerce.number().int().min(20).default(1_000),
  /** Telemetry is folded in batches of up to this many messages or this long after the first. */
  TELEMETRY_MAX_BATCH: z.coerce.number().int().min(1).default(500),
  TELEMETRY_MAX_WAIT_MS: z.coerce.number().int().min(1).default(100),
  /** Telemetry delivered to a replica that died goes to another after this long. */
  TELEMETRY_ACK_WAIT_MS: z.coerce.number().int().min(500).default(30_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
});
export type Env = z.infer<typeof envSchema>;

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid environment: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  return parsed.data;
}
