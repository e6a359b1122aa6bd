// NATS adapters behind the dispatch services' interfaces: desired state in KV `desired`,
// artifacts in object store `artifacts`, change notices on the device's rpc subject.
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { directGetLast, kvStreamName } from "@edgefleet/bus";
import {
  DESIRED_NOTICE_OP,
  type DesiredState,
  decodeJson,
  desiredStateSchema,
  encodeJson,
  KV_BUCKETS,
  kvSubject,
  subjects,
} from "@edgefleet/protocol";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ArtifactStore, DesiredStateStore, DeviceNotifier } from "../services/dispatch-ports";

export function natsDesiredStore(nc: NatsConnection, kv: KV): DesiredStateStore {
  return {
    async get(deviceId) {
      // The same direct get devices use: the value they would see right now.
      const m = await directGetLast(
        nc,
        kvStreamName(KV_BUCKETS.desired),
        kvSubject(KV_BUCKETS.desired, deviceId),
      );
      if (!m || m.data.length === 0) return null;
      return decodeJson(desiredStateSchema, m.data);
    },
    async put(deviceId: string, state: DesiredState) {
      await kv.put(deviceId, encodeJson(state));
    },
    async remove(deviceId: string) {
      await kv.purge(deviceId);
    },
  };
}

export function natsArtifactStore(os: ObjectStore): ArtifactStore {
  // Puts of one digest are serialised: a second put of the same name would replace the first's
  // chunks under a reader's feet.
  const inFlight = new Map<string, Promise<void>>();
  return {
    async has(digest) {
      const info = await os.info(digest);
      return info !== null && !info.deleted;
    },
    get(digest) {
      return os.getBlob(digest);
    },
    put(digest, path) {
      const running = inFlight.get(digest);
      if (running) return running;
      const put = (async () => {
        const body = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
        await os.put({ name: digest }, body);
      })().finally(() => inFlight.delete(digest));
      inFlight.set(digest, put);
      return put;
    },
  };
}

export function natsNotifier(nc: NatsConnection): DeviceNotifier {
  return {
    desiredChanged(deviceId, generation) {
      // Fire and forget: a device that misses it (offline) reads its key when it reconnects.
      nc.publish(subjects.rpc(deviceId, DESIRED_NOTICE_OP), encodeJson({ generation }));
    },
  };
}
