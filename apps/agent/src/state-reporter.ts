// Delivers the agent's state reports: the latest report wins (an "applying" overtaken by
// "applied" need not be sent), and one that could not be published (offline) is sent when the
// connection returns.
import type { StateReport } from "@edgefleet/protocol";

export class StateReporter {
  private pending: StateReport | undefined;
  private sending: Promise<void> | undefined;
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
    this.sending ??= (async () => {
      while (this.connected && this.pending) {
        const r = this.pending;
        try {
          await this.publish(r);
        } catch {
          return; // kept; sent again on the next report or reconnect
        }
        if (this.pending === r) this.pending = undefined;
      }
    })().finally(() => {
      this.sending = undefined;
    });
    return this.sending;
  }

  get waiting(): StateReport | undefined {
    return this.pending;
  }
}
