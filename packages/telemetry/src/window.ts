import type { Telemetry } from "@edgefleet/protocol";
import { LatencySketch } from "./sketch";

export type RequestOutcome = "ok" | "error" | "rejected";

/** What the agent knows at the end of a window; the window supplies the rest of the message. */
export interface SnapshotFields {
  epoch: number;
  seq: number;
  windowEnd: number;
  variantId: string | null;
  generation: number;
  queueDepth: number;
  cpuPercent: number;
  rssBytes: number;
  simulated: boolean;
  deviceClass: string;
  droppedBefore: number;
}

/** One window of a device's serving, turned into a telemetry message by `snapshot`. */
export class TelemetryWindow {
  private latency = new LatencySketch();
  private runBatch1 = new LatencySketch();
  private requests = 0;
  private errors = 0;
  private rejected = 0;
  private runs = 0;
  private samples = 0;
  private queueDepthMax = 0;
  private shadowCompared = 0;
  private shadowAgreed = 0;

  /** `windowStart`: ms since the epoch, device clock. */
  constructor(private windowStart: number) {}

  /**
   * Only answered requests enter the latency sketch: a refusal is instant and a model error is
   * not a latency anyone waited for, so either would pull the percentiles down.
   */
  onRequest(latencyMs: number, outcome: RequestOutcome): void {
    if (outcome === "ok") {
      this.requests++;
      this.latency.record(latencyMs);
    } else if (outcome === "error") {
      this.errors++;
    } else {
      this.rejected++;
    }
  }

  /** Only single-sample runs are timed: that is the figure the planner predicts. */
  onRun(batchSize: number, runMs: number): void {
    this.runs++;
    this.samples += batchSize;
    if (batchSize === 1) this.runBatch1.record(runMs);
  }

  onQueueDepth(depth: number): void {
    if (depth > this.queueDepthMax) this.queueDepthMax = depth;
  }

  /** A shadow comparison: the previous variant ran on the same request and agreed or not. */
  onShadow(agreed: boolean): void {
    this.shadowCompared++;
    if (agreed) this.shadowAgreed++;
  }

  /** The message for the window that ends at `f.windowEnd`; the next window starts there. */
  snapshot(f: SnapshotFields): Telemetry {
    // A device clock stepped back must not produce a window that ends before it starts.
    const windowEnd = Math.max(f.windowEnd, this.windowStart);
    const message: Telemetry = {
      version: 1,
      epoch: f.epoch,
      seq: f.seq,
      windowStart: this.windowStart,
      windowEnd,
      variantId: f.variantId,
      generation: f.generation,
      requests: this.requests,
      errors: this.errors,
      rejected: this.rejected,
      latency: this.latency.toSummary(),
      runBatch1: this.runBatch1.toSummary(),
      runs: this.runs,
      samples: this.samples,
      queueDepth: f.queueDepth,
      queueDepthMax: Math.max(this.queueDepthMax, f.queueDepth),
      cpuPercent: f.cpuPercent,
      rssBytes: f.rssBytes,
      simulated: f.simulated,
      deviceClass: f.deviceClass,
      droppedBefore: f.droppedBefore,
      shadow:
        this.shadowCompared > 0
          ? { compared: this.shadowCompared, agreed: this.shadowAgreed }
          : null,
    };
    this.reset(windowEnd);
    return message;
  }

  private reset(windowStart: number): void {
    this.windowStart = windowStart;
    this.shadowCompared = 0;
    this.shadowAgreed = 0;
    this.latency = new LatencySketch();
    this.runBatch1 = new LatencySketch();
    this.requests = this.errors = this.rejected = this.runs = this.samples = 0;
    this.queueDepthMax = 0;
  }
}
