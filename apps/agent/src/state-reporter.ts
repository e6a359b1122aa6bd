// Delivers the agent's state reports: the latest report wins (an "applying" overtaken by
// "applied" need not be sent), and one that could not be published (offline) is sent when the
// connection returns.
import type { StateReport } from "@edgefleet/protocol";
import { Coalescer } from "./coalescer";

export class StateReporter {
  private pending: StateReport | undefined;
  private readonly sender = new Coalescer(() => this.send());
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
    return this.sender.run();
  }

  private async send(): Promise<void> {
    while (this.connected && this.pending) {
      const r = this.pending;
      try {
        await this.publish(r);
      } catch {
        return; // kept; sent again on the next report or reconnect
      }
      if (this.pending === r) this.pending = undefined;
    }
  }

  get waiting(): StateReport | undefined {
    return this.pending;
  }
}
