// The only place the control plane reads the environment.
import { z } from "zod";

const envSchema = z.object({
  DATABASE_URL: z.string().url().default("postgresql://postgres@127.0.0.1:5432/edgefleet"),
  /** NATS the control plane connects to. Empty: use the nats-server it was told to manage. */
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  /** URLs handed to devices at enrollment (comma separated); defaults to NATS_URL. */
  NATS_PUBLIC_URLS: z.string().optional(),
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
