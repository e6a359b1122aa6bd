// Telemetry from the device: serving is observed into a window that closes every interval into a
// message; messages wait in a bounded offline buffer and are published to JetStream in order,
// each under its (epoch, seq) as message id, and dropped from the buffer only once acknowledged.
// A resend after a lost ack therefore carries the same id and position: the stream's duplicate
// window and the control plane's per-device cursor keep it from counting twice.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@edgefleet/bus";
import { encodeJson, type Telemetry } from "@edgefleet/protocol";
import { OfflineBuffer, TelemetryWindow } from "@edgefleet/telemetry";
import type { Logger } from "pino";
import { Coalescer } from "./coalescer";
import type { RequestOutcome, ServingObserver } from "./serving";

export interface TelemetryPublisherDeps {
  deviceId: string;
  epoch: number;
  intervalMs: number;
  /** What serves now (variant and generation), read when a window closes. */
  serving(): { variantId: string; generation: number } | null;
  simulated: boolean;
  deviceClass: string;
  /** JetStream publish with a message id; rejects when not acknowledged. */
  publish(data: Uint8Array, msgId: string): Promise<void>;
  log: Logger;
  /** Windows kept while offline (default 720: an hour at 5 s). */
  capacity?: number;
}

export class TelemetryPublisher implements ServingObserver {
  private window: TelemetryWindow;
  private readonly buffer: OfflineBuffer<Telemetry>;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly sender = new Coalescer(() => this.send());
  private connected = false;
  private cpu = process.cpuUsage();
  private cpuAt = performance.now();
  private queueDepth = 0;

  constructor(private readonly deps: TelemetryPublisherDeps) {
    this.window = new TelemetryWindow(Date.now());
    this.buffer = new OfflineBuffer(deps.capacity ?? 720, { carried: (m) => m.droppedBefore });
  }

  onRequest(latencyMs: number, outcome: RequestOutcome): void {
    this.window.onRequest(latencyMs, outcome);
  }
  onRun(batchSize: number, runMs: number): void {
    this.window.onRun(batchSize, runMs);
  }
  onQueueDepth(depth: number): void {
    this.queueDepth = depth;
    this.window.onQueueDepth(depth);
  }
  /** Counted for the variant serving when the window closes (the one the shadow is compared with). */
  onShadow(agreed: boolean): void {
    this.window.onShadow(agreed);
  }

  start(): void {
    this.timer ??= setInterval(() => this.close(), this.deps.intervalMs);
    this.timer.unref();
  }

  /** Connection state: while down, windows only accumulate in the buffer. */
  setConnected(up: boolean): void {
    this.connected = up;
    if (up) void this.flush();
  }

  /** Messages waiting for an ack. */
  get pending(): number {
    return this.buffer.size;
  }

  /** Closes the current window into a message and tries to send what is buffered. */
  close(): void {
    const now = Date.now();
    const serving = this.deps.serving();
    const usage = process.cpuUsage(this.cpu);
    const t = performance.now();
    const cpuPercent = ((usage.user + usage.system) / 1000 / Math.max(1, t - this.cpuAt)) * 100;
    this.cpu = process.cpuUsage();
    this.cpuAt = t;
    const message = this.window.snapshot({
      epoch: this.deps.epoch,
      seq: this.seq++,
      windowEnd: now,
      variantId: serving?.variantId ?? null,
      generation: serving?.generation ?? 0,
      queueDepth: this.queueDepth,
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      rssBytes: process.memoryUsage.rss(),
      simulated: this.deps.simulated,
      deviceClass: this.deps.deviceClass,
      droppedBefore: this.buffer.takeDropped(),
    });
    this.buffer.push(message);
    void this.flush();
  }

  /** Sends buffered messages in order until one is not acknowledged. */
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
      } catch (err) {
        this.deps.log.debug({ err: String(err), pending: this.buffer.size }, "telemetry held");
        return;
      }
    }
  }

  /** Closes the last window and gives its send a moment. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.close();
    await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 1_000))]);
  }
}

/** A counter bumped at every agent start, kept on disk: the `epoch` of telemetry (epoch, seq). */
export async function nextTelemetryEpoch(dataDir: string): Promise<number> {
  const path = join(dataDir, "telemetry-epoch");
  const previous = Number((await readFile(path, "utf8").catch(() => "0")).trim());
  const epoch = Number.isInteger(previous) && previous >= 0 ? previous + 1 : 1;
  await writeFileAtomic(path, `${epoch}\n`);
  return epoch;
}
