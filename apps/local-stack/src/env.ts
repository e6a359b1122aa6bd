// The only place the local stack reads the environment. Everything has an embedded default.
import { z } from "zod";

const envSchema = z.object({
  /** Use this PostgreSQL instead of an embedded one. */
  DATABASE_URL: z.string().url().optional(),
  /** Use this NATS instead of spawning nats-server. It must run the fleet operator config
   * (written to STATE_DIR/nats/nats-server.conf) or have NATS_AUTH=false. */
  NATS_URL: z.string().optional(),
  NATS_AUTH: z.enum(["true", "false"]).default("true"),
  STATE_DIR: z.string().default(".edgefleet"),
  AGENTS: z.coerce.number().int().min(0).max(50).default(3),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(50051),
  NATS_PORT: z.coerce.number().int().min(0).max(65535).default(4322),
  /** agent-n's local inference API listens on AGENT_API_PORT + 2(n-1) (gRPC on the next port). */
  AGENT_API_PORT: z.coerce.number().int().min(1).max(65000).default(8470),
  /**
   * V8 flags agents run with. The default trades JS speed for memory, as a small device would:
   * idle RSS ~58 MiB instead of ~74, local API ~1/3 of the throughput (docs/benchmarks/dispatch.md).
   */
  AGENT_NODE_FLAGS: z.string().default("--max-semi-space-size=1 --lite-mode"),
  PG_PORT: z.coerce.number().int().min(0).max(65535).default(54329),
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).default(5000),
  HEARTBEAT_TIMEOUT_MS: z.coerce.number().int().min(200).default(15000),
  NATS_SERVER_BIN: z.string().default("nats-server"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
});
export type StackEnv = z.infer<typeof envSchema>;

export function readEnv(source: NodeJS.ProcessEnv = process.env): StackEnv {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid environment: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  return parsed.data;
}
