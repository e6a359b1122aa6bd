// Device profiling in the agent: measured at first start, when the agent version changes, and on
// an operator's request. One measurement at a time: requests arriving mid-run join it.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DeviceProfileJson } from "@edgefleet/protocol";
import { type DeviceProfile, profileStaleness } from "@edgefleet/runtime/facts";

export type ProfileTrigger = "start" | "version" | "stale" | "request";

/** Pure: why this start needs a fresh profile, in the words of the profile event. */
export function startTrigger(
  stored: StoredProfileKey | undefined,
  current: { agentVersion: string; threads: number; simulatedClass: string; now: number },
): ProfileTrigger | undefined {
  const reason = profileStaleness(stored, current);
  if (reason === undefined) return undefined;
  if (reason === "missing") return "start";
  return reason === "agent-version" ? "version" : "stale";
}

/** What identifies the conditions a profile was measured under. */
export type StoredProfileKey = Pick<
  DeviceProfile,
  "agentVersion" | "threads" | "deviceClass" | "measuredAt"
>;

export class ProfileStamp {
  constructor(private readonly dir: string) {}
  private get path() {
    return join(this.dir, "profile-stamp.json");
  }
  async read(): Promise<StoredProfileKey | undefined> {
    try {
      return JSON.parse(await readFile(this.path, "utf8"));
    } catch {
      return undefined;
    }
  }
  async write(key: StoredProfileKey): Promise<void> {
    await writeFile(this.path, JSON.stringify(key), { mode: 0o600 });
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
