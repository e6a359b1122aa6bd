// Runs the probe (probe-main.ts, or its bundled probe.mjs) as a child process and returns its
// reply. A probe that exits without one, or runs past the timeout, is a ProbeFailedError.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import type { ProbeReply, ProbeRequest } from "./probe-protocol";

export class ProbeFailedError extends Error {
  override name = "ProbeFailedError";
}

export interface ProbeEntry {
  /** The script to run with node. */
  script: string;
  /** Extra node flags, e.g. `--import <tsx>` for the TypeScript source. */
  nodeArgs: string[];
}

/** The probe beside this module: TypeScript source (run through tsx) or the bundle's probe.mjs. */
export function defaultProbeEntry(): ProbeEntry {
  const fromSource = import.meta.url.endsWith(".ts");
  const script = new URL(fromSource ? "./probe-main.ts" : "./probe.mjs", import.meta.url).pathname;
  return {
    script,
    nodeArgs: fromSource ? ["--import", createRequire(import.meta.url).resolve("tsx")] : [],
  };
}

export function runProbe(
  entry: ProbeEntry,
  request: ProbeRequest,
  timeoutMs = 300_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry.nodeArgs, entry.script], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err = (err + d).slice(-2000);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new ProbeFailedError(`probe did not start: ${e.message}`, { cause: e }));
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split("\n").at(-1) ?? "";
      let reply: ProbeReply | undefined;
      try {
        reply = JSON.parse(line) as ProbeReply;
      } catch {
        reply = undefined;
      }
      if (!reply) {
        const why = signal ? `was killed (${signal})` : `exited ${code} without a reply`;
        reject(new ProbeFailedError(`probe ${why}: ${err.trim().split("\n").at(-1) ?? ""}`));
      } else if (!reply.ok) reject(new ProbeFailedError(reply.error));
      else resolve(reply.result);
    });
    child.stdin.end(JSON.stringify(request));
  });
}
