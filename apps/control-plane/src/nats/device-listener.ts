// Listens to what devices publish: heartbeats (core NATS, queue group so replicas share them) and
// events (JetStream EVENTS, one durable consumer shared by replicas). Messages are handled side by
// side (each a database write or two), in order per device. A malformed message is logged and
// dropped; it never stops the listener.
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
  /** Messages handled at once (default 32: a rollout's reports arrive by the thousand). */
  concurrency = 32,
): Promise<DeviceListener> {
  const pool = new KeyedPool(concurrency);
  const count = (kind: string, outcome: string) => metrics?.natsMessages.inc({ kind, outcome });
  const heartbeats = nc.subscribe(subjects.anyHeartbeat, { queue: QUEUE });
  const beatLoop = (async () => {
    for await (const msg of heartbeats) {
      const deviceId = deviceIdFromSubject(msg.subject);
      if (!deviceId) continue;
      await pool.submit(deviceId, async () => {
        try {
          await devices.recordHeartbeat(deviceId, decodeJson(heartbeatSchema, msg.data));
          count("heartbeat", "ok");
        } catch (err) {
          logger.warn({ err, deviceId }, "heartbeat dropped");
          count("heartbeat", "dropped");
        }
      });
    }
  })();

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
      await Promise.allSettled([beatLoop, eventLoop]);
      await pool.idle();
    },
  };
}
