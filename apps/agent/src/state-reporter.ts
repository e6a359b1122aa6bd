// Delivers the agent's state reports: the latest report wins (an "applying" overtaken by
// "applied" need not be sent), and one that could not be published (offline) is sent when the
// connection returns.
import type { StateReport } from "@edgefleet/protocol";

export class StateReporter {
  private pending: StateReport | undefined;
  private sending: Promise<void> | undefined;
  private sendingNow = false;
  private again = false;
  private connected = false;

  constructor(private readonly publish: (report: StateReport) => Promise<void>) {}

  report(r: StateReport): void {
    this.pending = r;
    void this.flush();
  }

  setConnected(up: boolean): void {
    this.connected = up;
    if (up) void this.flush();
  }

  /** Resolves once nothing is waiting or a send failed. */
  flush(): Promise<void> {
    if (this.sendingNow) {
      // A pass is running: it looks once more before it ends.
      this.again = true;
      return this.sending ?? Promise.resolve();
    }
    // Cleared inside the pass, synchronously as it ends (not in a later `finally` callback): a
    // call after that point starts a new pass instead of joining one that will not look again.
    this.sendingNow = true;
    this.sending = (async () => {
      try {
        do {
          this.again = false;
          while (this.connected && this.pending) {
            const r = this.pending;
            try {
              await this.publish(r);
            } catch {
              return; // kept; sent again on the next report or reconnect
            }
            if (this.pending === r) this.pending = undefined;
          }
        } while (this.again);
      } finally {
        this.sendingNow = false;
      }
    })();
    return this.sending;
  }

  get waiting(): StateReport | undefined {
    return this.pending;
  }
}
