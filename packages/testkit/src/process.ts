// Child processes for fault tests (an agent, a control plane): spawned with their own
// environment, ready when a line of their output matches, killed with any signal, and never
// outliving the test process.
import { type ChildProcess, spawn } from "node:child_process";

export interface ProcessSpec {
  /** Shown in errors. */
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Ready when a line of stdout or stderr matches (default: as soon as it is spawned). */
  ready?: RegExp;
  readyTimeoutMs?: number;
}

export interface ProcessHandle {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves with the first line matching, printed before or after the call. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Its exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal and waits for the exit (SIGKILL after `graceMs`). Idempotent. */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;
function killLiveOnExit(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

export async function startProcess(spec: ProcessSpec): Promise<ProcessHandle> {
  killLiveOnExit();
  const child = spawn(spec.command, spec.args, {
    env: spec.env,
    cwd: spec.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let text = "";
  const watchers = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (d: string) => {
      text += d;
      if (text.length > 4_000_000) text = text.slice(-2_000_000);
      for (const w of watchers) w();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      live.delete(child);
      for (const w of watchers) w();
      resolve({ code, signal });
    }),
  );
  const tail = () => text.split("\n").slice(-30).join("\n");
  const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = text.split("\n").find((l) => pattern.test(l));
        if (line !== undefined) return finish(() => resolve(line));
        if (child.exitCode !== null || child.signalCode !== null)
          finish(() => reject(new Error(`${spec.name} exited before ${pattern}:\n${tail()}`)));
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`${spec.name}: no ${pattern} in ${timeoutMs} ms:\n${tail()}`)),
          ),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        watchers.delete(check);
        settle();
      };
      watchers.add(check);
      check();
    });
  const handle: ProcessHandle = {
    name: spec.name,
    pid: child.pid ?? -1,
    child,
    output: () => text,
    waitFor,
    exited,
    async kill(signal = "SIGTERM", graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  if (spec.ready) {
    try {
      await waitFor(spec.ready, spec.readyTimeoutMs);
    } catch (err) {
      await handle.kill("SIGKILL");
      throw err;
    }
  }
  return handle;
}
