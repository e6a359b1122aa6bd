// Test fixture (fault tests): numbered telemetry as an agent sends it, published by devices at a
// steady pace, and what Postgres folded of it, so a test can say "exactly what was sent".
import type { PrismaClient } from "@edgefleet/db";
import { encodeJson, subjects, type Telemetry } from "@edgefleet/protocol";
import { LatencySketch } from "@edgefleet/telemetry";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/** One agent window: `requests` requests of 1-5 ms on `variantId`, numbered (epoch 1, `seq`). */
export function telemetry(variantId: string, seq: number, requests: number): Telemetry {
  const sketch = new LatencySketch();
  for (let i = 0; i < requests; i++) sketch.record(1 + (i % 5));
  const start = Date.now() - 1_000;
  return {
    version: 1,
    epoch: 1,
    seq,
    windowStart: start,
    windowEnd: start + 1_000,
    variantId,
    generation: 1,
    requests,
    errors: 0,
    rejected: 0,
    latency: sketch.toSummary(),
    runBatch1: sketch.toSummary(),
    runs: requests,
    samples: requests,
    queueDepth: 0,
    queueDepthMax: 1,
    cpuPercent: 10,
    rssBytes: 50e6,
    simulated: false,
    deviceClass: "",
    droppedBefore: 0,
    shadow: null,
  };
}

export interface TelemetryPublishers {
  /** Requests sent (JetStream acknowledged) per device so far. */
  sent: Map<string, number>;
  /** Messages sent per device so far. */
  messages: Map<string, number>;
  /** Stops publishing and resolves when every publisher has. */
  stop(): Promise<void>;
}

/**
 * Each device publishes seq 0, 1, 2 ... every `everyMs` (1 to 7 requests each, msgID deduped as
 * the agent does) until stopped. JetStream keeps them while no control plane folds.
 */
export function publishTelemetry(
  devices: ReadonlyArray<{ deviceId: string; nc: NatsConnection }>,
  variantId: string,
  everyMs = 50,
): TelemetryPublishers {
  let running = true;
  const sent = new Map<string, number>();
  const messages = new Map<string, number>();
  const loops = devices.map(async ({ deviceId, nc }) => {
    const js = jetstream(nc);
    for (let seq = 0; running; seq++) {
      const requests = 1 + (seq % 7);
      await js.publish(
        subjects.telemetry(deviceId),
        encodeJson(telemetry(variantId, seq, requests)),
        { msgID: `${deviceId}:1:${seq}` },
      );
      sent.set(deviceId, (sent.get(deviceId) ?? 0) + requests);
      messages.set(deviceId, seq + 1);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  });
  return {
    sent,
    messages,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Requests folded into the device's rollups. */
export async function foldedRequests(prisma: PrismaClient, deviceId: string): Promise<number> {
  const rows = await prisma.telemetryRollup.findMany({
    where: { deviceId },
    select: { requests: true },
  });
  return rows.reduce((n, r) => n + r.requests, 0);
}
