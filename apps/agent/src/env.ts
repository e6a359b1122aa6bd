// The only place the agent reads the environment.
import { hostname } from "node:os";
import { z } from "zod";

const envSchema = z.object({
  CONTROL_PLANE_GRPC: z.string().default("127.0.0.1:50051"),
  ENROLLMENT_TOKEN: z.string().optional(),
  /** Alternative to ENROLLMENT_TOKEN: a file holding it (docker compose). */
  ENROLLMENT_TOKEN_FILE: z.string().optional(),
  DATA_DIR: z.string().default(".edgefleet/agent"),
  /** NATS servers to use instead of those handed at enrollment (comma separated): a cluster's
   * nodes, so the agent fails over between them, or an edge site's leaf server(s). */
  NATS_URL: z.string().optional(),
  DEVICE_NAME: z.string().default(hostname()),
  /** Comma-separated key=value pairs, e.g. `site=lab,room=2`. */
  LABELS: z.string().default(""),
  /** Run as a simulated device class (caps memory, slows compute); empty for the real machine. */
  SIMULATED_CLASS: z.string().default(""),
  /** With SIMULATED_CLASS: memory a model may use, below the class's default (bytes). */
  SIMULATED_MEMORY_BYTES: z.coerce
    .number()
    .int()
    .min(2 ** 20)
    .optional(),
  /** ONNX Runtime threads for inference and profiling; default: all cores. */
  INFERENCE_THREADS: z.coerce.number().int().min(1).max(256).optional(),
  /** Local inference API (HTTP) for applications on the device; 0 = an ephemeral port. */
  LOCAL_API_HOST: z.string().default("127.0.0.1"),
  LOCAL_API_PORT: z.coerce.number().int().min(0).max(65535).default(8470),
  /** Local gRPC inference API; empty = off. */
  LOCAL_GRPC_PORT: z
    .string()
    .default("8471")
    .transform((v, ctx) => {
      if (v === "") return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) {
        ctx.addIssue({ code: "custom", message: "must be a port (0-65535) or empty" });
        return z.NEVER;
      }
      return n;
    }),
  TELEMETRY_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  /** Bytes of artifacts kept in DATA_DIR/artifacts. */
  ARTIFACT_CACHE_BYTES: z.coerce
    .number()
    .int()
    .min(2 ** 20)
    .default(2 ** 30),
  /** Local data for federated calibration: `mnist:digits=0,1,2[;limit=N]` or `f32:<file>`. */
  CALIBRATION_DATA: z.string().default(""),
  /** JetStream domain artifacts are read from: the site's (its mirror), else the local one. */
  NATS_JS_DOMAIN: z.string().default(""),
  /** JetStream domain of the desired-state KV: the hub's (`hub`) when connected to a site. */
  NATS_DESIRED_DOMAIN: z.string().default(""),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
});
export type AgentEnv = z.infer<typeof envSchema>;

export function readEnv(source: NodeJS.ProcessEnv = process.env): AgentEnv {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid environment: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  return parsed.data;
}

export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(",").filter(Boolean)) {
    const [key, ...rest] = pair.split("=");
    if (!key || rest.length === 0)
      throw new Error(`invalid environment: LABELS: "${pair}" is not key=value`);
    labels[key.trim()] = rest.join("=").trim();
  }
  return labels;
}
