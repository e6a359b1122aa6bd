// Delivers the agent's state reports: the latest report wins (an "applying" overtaken by
// "applied" need not be sent), a publish that failed while connected is tried again with backoff
// (a JetStream publish lost in a leader election or a node failover is not an error), and one
// that could not be published while offline is sent when the connection returns.
import { type BackoffPolicy, backoffDelay } from "@edgefleet/bus";
import type { StateReport } from "@edgefleet/protocol";
import { Coalescer } from "./coalescer";

/** A JetStream cluster elects a new stream leader in ~3-8 s: retry for that long and more. */
const RETRY_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 5_000 };

export class StateReporter {
  private pending: StateReport | undefined;
  private readonly sender = new Coalescer(() => this.send());
  private connected = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly publish: (report: StateReport) => Promise<void>,
    private readonly backoff: BackoffPolicy = RETRY_BACKOFF,
  ) {}

  report(r: StateReport): void {
    this.pending = r;
    void this.flush();
  }

  setConnected(up: boolean): void {
    this.connected = up;
    this.wake?.();
    if (up) void this.flush();
  }

  /** Resolves once nothing is waiting, or the connection is down (what waits is kept). */
  flush(): Promise<void> {
    return this.sender.run();
  }

  private async send(): Promise<void> {
    let failures = 0;
    while (this.connected && this.pending) {
      const r = this.pending;
      try {
        await this.publish(r);
      } catch {
        await this.pause(backoffDelay(failures++, this.backoff, Math.random()));
        continue;
      }
      failures = 0;
      if (this.pending === r) this.pending = undefined;
    }
  }

  /** Sleeps before a retry; a change of connection ends it early. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  get waiting(): StateReport | undefined {
    return this.pending;
  }
}
