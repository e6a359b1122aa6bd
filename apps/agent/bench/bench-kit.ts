// Shared pieces of the serving benchmarks: the forked load client, percentiles, Markdown tables.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { LoadCommand, LoadResult } from "./load-client";

export class LoadClient {
  private readonly child: ChildProcess;

  constructor() {
    this.child = fork(fileURLToPath(new URL("./load-client.ts", import.meta.url)), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
  }

  run(cmd: LoadCommand): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.child.once("message", (msg: LoadResult | { error: string }) =>
        "error" in msg ? reject(new Error(msg.error)) : resolve(msg),
      );
      this.child.send(cmd);
    });
  }

  close(): void {
    this.child.kill();
  }
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "-");
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
