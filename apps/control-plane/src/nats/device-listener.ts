// Listens to what devices publish: heartbeats (core NATS, queue group so replicas share them) and
// events (JetStream EVENTS, one durable consumer shared by replicas). Heartbeats are gathered for
// a moment and written in one statement (10,000 devices beating every 5 s are 2,000 a second);
// events are handled side by side (each a database write or two), in order per device. A
// malformed message is logged and dropped; it never stops the listener.
import {
  type DeviceEvent,
  decodeJson,
  deviceEventSchema,
  deviceIdFromSubject,
  heartbeatSchema,
  STREAMS,
  subjects,
} from "@edgefleet/protocol";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { ControlPlaneMetrics } from "../metrics";
import type { DeviceService } from "../services/device-service";
import { HeartbeatBatch, type HeartbeatBatchOptions } from "./heartbeat-batch";
import { KeyedPool } from "./keyed-pool";

const QUEUE = "control-plane";
const EVENTS_CONSUMER = "control-plane-events";

export interface DeviceListener {
  stop(): Promise<void>;
}

export async function startDeviceListener(
  nc: NatsConnection,
  devices: DeviceService,
  logger: Logger,
  metrics?: ControlPlaneMetrics,
  /** Events handled at once (default 32: a rollout's reports arrive by the thousand). */
  concurrency = 32,
  heartbeatBatch: HeartbeatBatchOptions = {},
): Promise<DeviceListener> {
  const pool = new KeyedPool(concurrency);
  const count = (kind: string, outcome: string) => metrics?.natsMessages.inc({ kind, outcome });
  const beats = new HeartbeatBatch(async (ids) => {
    try {
      await devices.recordHeartbeats(ids);
      metrics?.natsMessages.inc({ kind: "heartbeat", outcome: "ok" }, ids.length);
    } catch (err) {
      logger.warn({ err, devices: ids.length }, "heartbeats dropped");
      metrics?.natsMessages.inc({ kind: "heartbeat", outcome: "dropped" }, ids.length);
    }
  }, heartbeatBatch);
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
  const messages = await consumer.consume();
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
      await pool.submit(deviceId, async () => {
        try {
          await devices.recordEvent(deviceId, event);
          msg.ack();
          count("event", "ok");
        } catch (err) {
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
      await Promise.all([pool.idle(), beats.close()]);
    },
  };
}
