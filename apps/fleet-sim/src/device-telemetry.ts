// A virtual device's serving, simulated, and its telemetry: requests arrive as a Poisson process
// at the model's rate; each one's latency is drawn from the model for what the device serves
// and its co-tenant load. Requests are drawn when a window closes or the load changes, for the
// time since the last draw, so no timer runs per request. Messages are the agent's: a
// TelemetryWindow snapshot with (epoch, seq), kept in an offline buffer until acknowledged and
// published under the msgID `<deviceId>:<epoch>:<seq>`.
import { Coalescer } from "@edgefleet/agent/coalescer";
import { encodeJson, type KernelType, type Telemetry } from "@edgefleet/protocol";
import { OfflineBuffer, TelemetryWindow } from "@edgefleet/telemetry";
import type { SimulationModel } from "./model";
import type { Random } from "./random";

/** What serves now, as far as the simulation needs it. */
export interface ServingInfo {
  variantId: string;
  variantName: string;
  kernelType: KernelType;
  generation: number;
  memoryBytes: number;
  /** Shadow mode of the assignment, when the previous variant is still loaded beside it. */
  shadowSampleRate: number | null;
}

export interface DeviceTelemetryDeps {
  deviceId: string;
  deviceClass: string;
  epoch: number;
  model: SimulationModel;
  random: Random;
  serving(): ServingInfo | null;
  /** JetStream publish with a message id; rejects when not acknowledged. */
  publish(data: Uint8Array, msgId: string): Promise<void>;
  /** Windows kept while offline (default 120: ten minutes at 5 s). */
  capacity?: number;
  /** The clock (default `Date.now`); tests pass a virtual one. */
  now?: () => number;
}

/** An agent process idles at about this much resident memory (see docs/benchmarks/dispatch.md). */
const AGENT_RSS_BYTES = 58 * 2 ** 20;

export class DeviceTelemetry {
  private window: TelemetryWindow;
  private readonly buffer: OfflineBuffer<Telemetry>;
  private readonly sender = new Coalescer(() => this.send());
  private seq = 0;
  private drawnAt: number;
  private windowStart: number;
  private busyMs = 0;
  private connected = false;
  load = 1;
  sent = 0;
  requests = 0;
  lastMedianMs: number | null = null;

  private readonly now: () => number;

  constructor(private readonly deps: DeviceTelemetryDeps) {
    this.now = deps.now ?? Date.now;
    const now = this.now();
    this.window = new TelemetryWindow(now);
    this.drawnAt = this.windowStart = now;
    this.buffer = new OfflineBuffer(deps.capacity ?? 120, { carried: (m) => m.droppedBefore });
  }

  get pending(): number {
    return this.buffer.size;
  }

  setConnected(up: boolean): void {
    this.connected = up;
    if (up) void this.flush();
  }

  /** Changes the co-tenant load factor from now on (what was served before keeps its draw). */
  setLoad(factor: number): void {
    this.draw(this.now());
    this.load = factor;
  }

  /** Draws the requests served since the last draw. */
  draw(now: number): void {
    const dt = now - this.drawnAt;
    this.drawnAt = now;
    const s = this.deps.serving();
    if (!s || dt <= 0) return;
    const { model, random } = this.deps;
    const n = random.poisson((model.requestsPerSecond * dt) / 1000);
    if (n === 0) return;
    const v = model.variant(s.variantName);
    const median = model.medianLatencyMs(
      this.deps.deviceClass,
      s.variantName,
      s.kernelType,
      this.load,
    );
    this.lastMedianMs = median;
    const w = this.window;
    for (let i = 0; i < n; i++) {
      if (v.errorRate > 0 && random.next() < v.errorRate) {
        w.onRequest(0, "error");
        continue;
      }
      const ms = median * random.logNormal(model.latencySpread);
      const runMs = ms * model.runShare;
      w.onRequest(ms, "ok");
      w.onRun(1, runMs);
      this.busyMs += runMs;
      if (s.shadowSampleRate !== null && random.next() < s.shadowSampleRate) {
        w.onShadow(random.next() < v.agreement);
        this.busyMs += runMs; // the previous variant runs the request too
      }
    }
    this.requests += n;
  }

  /** Closes the window into a message and sends what is buffered. */
  close(): void {
    const now = this.now();
    this.draw(now);
    const s = this.deps.serving();
    const elapsed = Math.max(1, now - this.windowStart);
    const message = this.window.snapshot({
      epoch: this.deps.epoch,
      seq: this.seq++,
      windowEnd: now,
      variantId: s?.variantId ?? null,
      generation: s?.generation ?? 0,
      queueDepth: 0,
      cpuPercent: Math.round((0.5 + (this.busyMs / elapsed) * 100) * 10) / 10,
      rssBytes: AGENT_RSS_BYTES + (s?.memoryBytes ?? 0),
      simulated: true,
      deviceClass: this.deps.deviceClass,
      droppedBefore: this.buffer.takeDropped(),
    });
    this.windowStart = now;
    this.busyMs = 0;
    this.buffer.push(message);
    void this.flush();
  }

  flush(): Promise<void> {
    return this.sender.run();
  }

  private async send(): Promise<void> {
    while (this.connected) {
      const next = this.buffer.peek();
      if (!next) return;
      try {
        await this.deps.publish(
          encodeJson(next),
          `${this.deps.deviceId}:${next.epoch}:${next.seq}`,
        );
        this.buffer.shift();
        this.sent++;
      } catch {
        return; // held: sent again on the next window or reconnect
      }
    }
  }
}
