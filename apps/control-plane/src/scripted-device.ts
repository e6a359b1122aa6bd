// A device that does what an agent does on the wire (reads its desired state when told, reports
// it applied, sends telemetry at latencies a test chooses), on its own identity and connection.
// For tests and demos (the console's browser tests and screenshots): no ONNX Runtime involved.
import { directGetLast, kvStreamName } from "@edgefleet/bus";
import {
  DESIRED_NOTICE_OP,
  type DesiredState,
  decodeJson,
  desiredStateSchema,
  encodeJson,
  KV_BUCKETS,
  kvSubject,
  type StateReport,
  subjects,
  type Telemetry,
} from "@edgefleet/protocol";
import { LatencySketch } from "@edgefleet/telemetry";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** Does what an agent does on the wire, with latencies the test decides. */
export class ScriptedDevice {
  desired: DesiredState | null = null;
  /** Milliseconds this device answers in, by variant name (default 5), times `load`. */
  latency: Record<string, number> = {};
  /** A co-tenant slowing the device down. */
  load = 1;
  private seq = 0;
  private beats = 0;
  constructor(
    readonly deviceId: string,
    readonly nc: NatsConnection,
  ) {
    nc.subscribe(subjects.rpc(deviceId, DESIRED_NOTICE_OP), { callback: () => void this.read() });
  }

  async read() {
    const m = await directGetLast(
      this.nc,
      kvStreamName(KV_BUCKETS.desired),
      kvSubject(KV_BUCKETS.desired, this.deviceId),
    );
    if (!m) return;
    const d = decodeJson(desiredStateSchema, m.data);
    if (this.desired && d.generation <= this.desired.generation) return;
    this.desired = d;
    const a = d.assignment;
    await this.report({
      type: "state",
      sentAt: Date.now(),
      generation: d.generation,
      phase: "applied",
      serving: a
        ? { generation: d.generation, variantId: a.manifest.variant.id, digest: a.manifest.digest }
        : null,
    });
  }

  /** One liveness beat (an agent sends one every heartbeat interval). */
  heartbeat() {
    this.nc.publish(
      subjects.heartbeat(this.deviceId),
      encodeJson({ seq: this.beats++, sentAt: Date.now(), agentVersion: "scripted", uptimeS: 1 }),
    );
  }

  report(r: StateReport) {
    return jetstream(this.nc).publish(subjects.events(this.deviceId), encodeJson(r));
  }

  get variantName(): string | null {
    return this.desired?.assignment?.manifest.variant.name ?? null;
  }

  /** A telemetry window of `requests` answered at this device's latency for what it serves. */
  async serve(requests = 60, at = Date.now()) {
    const a = this.desired?.assignment;
    if (!a) return;
    const ms = (this.latency[a.manifest.variant.name] ?? 5) * this.load;
    const sketch = new LatencySketch();
    for (let i = 0; i < requests; i++) sketch.record(ms * (0.9 + (i % 10) / 50));
    const end = at;
    const t: Telemetry = {
      version: 1,
      epoch: 1,
      seq: this.seq++,
      windowStart: end - 1000,
      windowEnd: end,
      variantId: a.manifest.variant.id,
      generation: this.desired!.generation,
      requests,
      errors: 0,
      rejected: 0,
      latency: sketch.toSummary(),
      runBatch1: null,
      runs: requests,
      samples: requests,
      queueDepth: 0,
      queueDepthMax: 1,
      cpuPercent: 10,
      rssBytes: 60e6,
      simulated: true,
      deviceClass: "",
      droppedBefore: 0,
      shadow: null,
    };
    await jetstream(this.nc).publish(subjects.telemetry(this.deviceId), encodeJson(t), {
      msgID: `${this.deviceId}:1:${t.seq}`,
    });
  }
}
