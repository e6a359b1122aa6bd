// Device profiling in the agent: measured at first start, when the agent version changes, and on
// an operator's request. One measurement at a time: requests arriving mid-run join it.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DeviceProfileJson } from "@edgefleet/protocol";

export type ProfileTrigger = "start" | "version" | "request";

/** Pure: does this start need a fresh profile? */
export function startTrigger(
  stamp: { agentVersion: string } | undefined,
  agentVersion: string,
): ProfileTrigger | undefined {
  if (!stamp) return "start";
  return stamp.agentVersion === agentVersion ? undefined : "version";
}

export class ProfileStamp {
  constructor(private readonly dir: string) {}
  private get path() {
    return join(this.dir, "profile-stamp.json");
  }
  async read(): Promise<{ agentVersion: string; measuredAt: string } | undefined> {
    try {
      return JSON.parse(await readFile(this.path, "utf8"));
    } catch {
      return undefined;
    }
  }
  async write(agentVersion: string, measuredAt: string): Promise<void> {
    await writeFile(this.path, JSON.stringify({ agentVersion, measuredAt }), { mode: 0o600 });
  }
}

/** Runs `measure` at most once at a time; callers during a run share its result. */
export class SingleFlight<T> {
  private running: Promise<T> | undefined;
  run(work: () => Promise<T>): Promise<T> {
    this.running ??= work().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }
  get busy(): boolean {
    return this.running !== undefined;
  }
}

export type MeasureProfile = () => Promise<DeviceProfileJson>;
