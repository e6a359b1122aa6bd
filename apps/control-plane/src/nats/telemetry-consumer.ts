// Consumes the TELEMETRY stream with one durable pull consumer that every control-plane replica
// shares (each message goes to one of them), in batches: up to `maxBatch` messages or `maxWaitMs`
// after the first, folded in one database transaction, acknowledged after it commits. A failed
// batch is retried in place until the database takes it (order kept, see foldBatch); the fold's
// cursors make any redelivery harmless.
import {
  decodeJson,
  deviceIdFromSubject,
  STREAMS,
  type Telemetry,
  telemetrySchema,
} from "@edgefleet/protocol";
import {
  AckPolicy,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { ControlPlaneMetrics } from "../metrics";
import type { TelemetryService } from "../services/telemetry-service";

export const TELEMETRY_CONSUMER = "control-plane-telemetry";

export interface TelemetryConsumerOptions {
  maxBatch?: number;
  maxWaitMs?: number;
  /** How long a message delivered to a replica that died waits before another gets it (30 s). */
  ackWaitMs?: number;
}

export interface TelemetryConsumer {
  /** Resolves when everything received so far has been folded (tests, benchmarks). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTelemetryConsumer(
  nc: NatsConnection,
  telemetry: Pick<TelemetryService, "ingest">,
  logger: Logger,
  metrics?: ControlPlaneMetrics,
  opts: TelemetryConsumerOptions = {},
): Promise<TelemetryConsumer> {
  const maxBatch = opts.maxBatch ?? 500;
  const maxWaitMs = opts.maxWaitMs ?? 100;
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(STREAMS.telemetry.name, {
    durable_name: TELEMETRY_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: (opts.ackWaitMs ?? 30_000) * 1_000_000,
    max_ack_pending: 20_000,
  });
  const consumer = await jetstream(nc).consumers.get(STREAMS.telemetry.name, TELEMETRY_CONSUMER);
  const messages = await consumer.consume({ max_messages: Math.max(1000, maxBatch * 2) });

  let pending: Array<{ msg: JsMsg; deviceId: string; message: Telemetry }> = [];
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    // One batch at a time, in arrival order: a device's messages are folded in order.
    chain = chain.then(() => foldBatch(batch));
  };

  // A batch the database refused is retried in place, not nak'd: it keeps a device's messages in
  // order, and the cursor's seen window (1,024 seqs) is not stretched by a long outage. While retrying,
  // `working()` keeps the server from redelivering; later batches wait behind this one.
  let stopping = false;
  const foldBatch = async (batch: typeof pending) => {
    for (let attempt = 0; ; attempt++) {
      const end = metrics?.ingestBatchSeconds.startTimer();
      try {
        await telemetry.ingest(batch);
        for (const b of batch) b.msg.ack();
        metrics?.ingestBatchMessages.observe(batch.length);
        return;
      } catch (err) {
        if (stopping) {
          logger.warn({ err, messages: batch.length }, "telemetry batch not folded at stop");
          for (const b of batch) b.msg.nak();
          return;
        }
        if (attempt === 0) {
          logger.warn({ err, messages: batch.length }, "telemetry batch not folded, retrying");
        }
        for (const b of batch) b.msg.working();
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2_000)));
      } finally {
        end?.();
      }
    }
  };

  const loop = (async () => {
    for await (const msg of messages) {
      const deviceId = deviceIdFromSubject(msg.subject);
      let message: Telemetry;
      try {
        if (!deviceId) throw new Error(`no device id in ${msg.subject}`);
        message = decodeJson(telemetrySchema, msg.data);
      } catch (err) {
        logger.warn({ err: String(err), subject: msg.subject }, "malformed telemetry dropped");
        metrics?.telemetryMessages.inc({ outcome: "malformed" });
        msg.term();
        continue;
      }
      pending.push({ msg, deviceId, message });
      if (pending.length >= maxBatch) flush();
      else timer ??= setTimeout(flush, maxWaitMs);
    }
  })();

  return {
    async idle() {
      flush();
      await chain;
    },
    async stop() {
      stopping = true;
      await messages.close();
      await loop.catch(() => {});
      flush();
      await chain;
    },
  };
}
