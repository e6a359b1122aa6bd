// What every command shares: the environment main.ts read, how to reach the control plane, how
// to fail (one line on stderr, non-zero exit) and how to print (--json: machine output only).
import { readFile } from "node:fs/promises";
import { type Command, InvalidArgumentError } from "commander";
import type { ApiTarget } from "./api-client";
import {
  type CliEnv,
  type ConfigFile,
  configPath,
  LOCAL_STACK_TOKEN_FILE,
  parseConfigFile,
  resolveConnection,
} from "./config";
import { CliInputError, errorLine } from "./errors";

export interface Cli {
  env: CliEnv;
  /** --url / --token, else EDGEFLEET_URL / EDGEFLEET_TOKEN, else the config file, else npm start's. */
  target(flags: { url?: string; token?: string }): Promise<ApiTarget>;
  fail(err: unknown): never;
}

export function createCli(env: CliEnv): Cli {
  return {
    env,
    async target(flags) {
      // A broken config file matters only when it would be used.
      const tokenGiven = Boolean(flags.token || env.EDGEFLEET_TOKEN);
      const file = await readConfig(configPath(env)).catch((err) => {
        if (tokenGiven) return undefined;
        throw err;
      });
      const localStackToken = await readFile(LOCAL_STACK_TOKEN_FILE, "utf8").then(
        (t) => t.trim() || undefined,
        () => undefined,
      );
      const r = resolveConnection({ flags, env, file, localStackToken });
      if (!r.ok) throw new CliInputError(r.message);
      return { url: r.url, token: r.token };
    },
    fail(err) {
      process.stderr.write(`${errorLine(err)}\n`);
      process.exit(1);
    },
  };
}

export async function readConfig(path: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliInputError(`${path}: ${(err as Error).message}`);
  }
  try {
    return parseConfigFile(path, text);
  } catch (err) {
    throw new CliInputError((err as Error).message);
  }
}

/** --url and --token on a command that talks to a control plane. */
export function remote(cmd: Command): Command {
  return cmd
    .option(
      "--url <url>",
      "control plane REST URL (default EDGEFLEET_URL, the login config, or http://127.0.0.1:8080)",
    )
    .option(
      "--token <token>",
      "API token (default EDGEFLEET_TOKEN, the login config, or the local stack's admin token)",
    );
}

/** An action whose errors become one line on stderr and exit 1. */
export function run<A extends unknown[]>(
  cli: Cli,
  fn: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      cli.fail(err);
    }
  };
}

/** JSON with --json, else the human text: stdout only ever carries the command's answer. */
export function print(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : human()}\n`);
}

/** A flag parser whose error commander reports in one line (it rethrows other errors). */
export function flag<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

export const positive = (name: string) =>
  flag((v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a number > 0`);
    return n;
  });

export const positiveInt = (name: string) =>
  flag((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be an integer >= 1`);
    return n;
  });

/** For repeatable options: `--label a=1 --label b=2`. */
export const collect = (v: string, prev: string[] = []) => [...prev, v];
