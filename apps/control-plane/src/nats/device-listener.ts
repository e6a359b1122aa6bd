// Listens to what devices publish: heartbeats (core NATS, queue group so replicas share them) and
// events (JetStream EVENTS, one durable consumer shared by replicas). Heartbeats and state reports
// are gathered for a moment and written in one statement each (10,000 devices beating every 5 s
// are 2,000 a second; a rollout's reports arrive by the thousand); other events are handled side
// by side, in order per device. A malformed message is logged and dropped; it never stops the
// listener.
import { PULL_EXPIRES_MS } from "@edgefleet/bus";
import { isInvalidData } from "@edgefleet/db";
import {
  type DeviceEvent,
  decodeJson,
  deviceEventSchema,
  deviceIdFromSubject,
  heartbeatSchema,
  STREAMS,
  type StateReport,
  subjects,
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
import type { DeviceService } from "../services/device-service";
import { KeyedPool } from "./keyed-pool";
import { MicroBatch, type MicroBatchOptions } from "./micro-batch";

const QUEUE = "control-plane";
type PendingReport = { deviceId: string; report: StateReport; msg: JsMsg };
const EVENTS_CONSUMER = "control-plane-events";

export interface DeviceListener {
  stop(): Promise<void>;
}

export async function startDeviceListener(
  nc: NatsConnection,
  devices: DeviceService,
  logger: Logger,
  metrics?: ControlPlaneMetrics,
  /** Events other than state reports handled at once (default 32). */
  concurrency = 32,
  batches: { heartbeats?: MicroBatchOptions; reports?: MicroBatchOptions } = {},
): Promise<DeviceListener> {
  const pool = new KeyedPool(concurrency);
  const count = (kind: string, outcome: string) => metrics?.natsMessages.inc({ kind, outcome });
  // A device is marked seen at most 250 ms late (its timeout is tens of seconds).
  const beats = new MicroBatch<string>(async (ids) => {
    try {
      await devices.recordHeartbeats(ids);
      metrics?.natsMessages.inc({ kind: "heartbeat", outcome: "ok" }, ids.length);
    } catch (err) {
      logger.warn({ err, devices: ids.length }, "heartbeats dropped");
      metrics?.natsMessages.inc({ kind: "heartbeat", outcome: "dropped" }, ids.length);
    }
  }, batches.heartbeats ?? { maxWaitMs: 250, maxItems: 5_000 });
  // State reports: acknowledged once their batch is stored, redelivered if it was not. A report
  // whose values the database refuses is terminated on its own: the rest of its batch is stored.
  const storeReports = async (items: PendingReport[]): Promise<void> => {
    try {
      await devices.recordReports(items);
      for (const i of items) i.msg.ack();
      metrics?.natsMessages.inc({ kind: "event", outcome: "ok" }, items.length);
    } catch (err) {
      if (!isInvalidData(err)) {
        logger.warn({ err, reports: items.length }, "state reports not recorded, will retry");
        for (const i of items) i.msg.nak(2_000);
        metrics?.natsMessages.inc({ kind: "event", outcome: "retried" }, items.length);
      } else if (items.length === 1) {
        logger.warn({ err, deviceId: items[0]?.deviceId }, "state report refused by the database");
        items[0]?.msg.term();
        count("event", "dropped");
      } else {
        for (const i of items) await storeReports([i]);
      }
    }
  };
  const reports = new MicroBatch<PendingReport>(
    storeReports,
    batches.reports ?? { maxWaitMs: 20, maxItems: 1_000 },
  );
  const heartbeats = nc.subscribe(subjects.anyHeartbeat, {
    queue: QUEUE,
    callback: (err, msg) => {
      if (err) return;
      const deviceId = deviceIdFromSubject(msg.subject);
      if (!deviceId) return;
      try {
        decodeJson(heartbeatSchema, msg.data);
      } catch (e) {
        logger.warn({ err: e, deviceId }, "heartbeat dropped");
        count("heartbeat", "dropped");
        return;
      }
      beats.add(deviceId);
    },
  });

  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(STREAMS.events.name, {
    durable_name: EVENTS_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    max_deliver: 5,
  });
  const consumer = await jetstream(nc).consumers.get(STREAMS.events.name, EVENTS_CONSUMER);
  const messages = await consumer.consume({ expires: PULL_EXPIRES_MS });
  const eventLoop = (async () => {
    for await (const msg of messages) {
      const deviceId = deviceIdFromSubject(msg.subject);
      let event: DeviceEvent;
      try {
        event = decodeJson(deviceEventSchema, msg.data);
      } catch (err) {
        logger.warn({ err, deviceId }, "malformed device event dropped");
        count("event", "dropped");
        msg.term();
        continue;
      }
      if (!deviceId) {
        msg.ack();
        continue;
      }
      if (event.type === "state") {
        reports.add({ deviceId, report: event, msg });
        continue;
      }
      await pool.submit(deviceId, async () => {
        try {
          await devices.recordEvent(deviceId, event);
          msg.ack();
          count("event", "ok");
        } catch (err) {
          if (isInvalidData(err)) {
            // Values the database refuses: a redelivery would be refused the same way.
            logger.warn({ err, deviceId }, "device event refused by the database");
            count("event", "dropped");
            msg.term();
            return;
          }
          // Our side failed (database away): let JetStream redeliver it later.
          logger.warn({ err, deviceId }, "device event not recorded, will retry");
          count("event", "retried");
          msg.nak(2_000);
        }
      });
    }
  })();

  return {
    async stop() {
      heartbeats.unsubscribe();
      await messages.close();
      await Promise.allSettled([eventLoop]);
      await Promise.all([pool.idle(), beats.close(), reports.close()]);
    },
  };
}
