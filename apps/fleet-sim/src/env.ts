// The only place fleet-sim reads the environment: defaults for what the CLI does not say.
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";

const envSchema = z.object({
  DATABASE_URL: z.string().url().default("postgresql://postgres@127.0.0.1:5432/edgefleet"),
  ENROLLMENT_TOKEN: z.string().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
  /** `npm start -w` runs in the app's folder; paths given on its command line mean the caller's. */
  INIT_CWD: z.string().optional(),
});
export type Env = z.infer<typeof envSchema> & { resolvePath(path: string): string };

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid environment: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  const base = parsed.data.INIT_CWD ?? process.cwd();
  return {
    ...parsed.data,
    resolvePath: (path) => (isAbsolute(path) ? path : resolve(base, path)),
  };
}
