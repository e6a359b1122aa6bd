// Control-plane requests to this device (`ef.v1.rpc.<id>.<op>`). Each handler validates its input
// and always replies, with an error in the reply rather than silence.
import {
  CALIBRATE_OP,
  type CalibrateReply,
  DESIRED_NOTICE_OP,
  decodeJson,
  describeZodError,
  encodeJson,
  JOB_NOTICE_OP,
  jobNoticeSchema,
  type MeasureLatencyReply,
  measureLatencyHeadersSchema,
  subjects,
} from "@edgefleet/protocol";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "pino";

export interface RpcHandlers {
  /** Starts a profile measurement (reported as an event); false when one is already running. */
  reprofile(): boolean;
  measureLatency(
    model: Uint8Array,
    variantId: string,
    batch: number,
  ): Promise<Extract<MeasureLatencyReply, { ok: true }>>;
  /** The control plane wrote a new desired state: read it (the notice carries nothing to trust). */
  desiredChanged(): void;
  /** A batch job this device belongs to has work: pull its shards (the notice is only a nudge). */
  jobNotice(jobId: string): void;
  /** Federated calibration: statistics of a variant over the local data (never the data). */
  calibrate?(request: unknown): Promise<CalibrateReply>;
}

export function serveRpc(
  nc: NatsConnection,
  deviceId: string,
  handlers: RpcHandlers,
  log: Logger,
): Subscription[] {
  const profile = nc.subscribe(subjects.rpc(deviceId, "profile"), {
    callback: (_err, msg) => {
      const started = handlers.reprofile();
      msg.respond(
        encodeJson(started ? { accepted: true } : { accepted: true, reason: "already running" }),
      );
    },
  });
  const measure = nc.subscribe(subjects.rpc(deviceId, "measure-latency"), {
    callback: (_err, msg) => {
      void answerMeasure(msg, handlers).catch((err) => log.warn({ err }, "measure reply failed"));
    },
  });
  const desired = nc.subscribe(subjects.rpc(deviceId, DESIRED_NOTICE_OP), {
    callback: () => handlers.desiredChanged(),
  });
  const job = nc.subscribe(subjects.rpc(deviceId, JOB_NOTICE_OP), {
    callback: (_err, msg) => {
      try {
        handlers.jobNotice(decodeJson(jobNoticeSchema, msg.data).jobId);
      } catch (err) {
        log.debug({ err: String(err) }, "malformed job notice ignored");
      }
    },
  });
  const subs = [profile, measure, desired, job];
  // Federated calibration (issue 9).
  const { calibrate } = handlers;
  if (calibrate) {
    subs.push(
      nc.subscribe(subjects.rpc(deviceId, CALIBRATE_OP), {
        callback: (_err, msg) => {
          void answerCalibrate(msg, calibrate).catch((err) =>
            log.warn({ err }, "calibrate reply failed"),
          );
        },
      }),
    );
  }
  return subs;
}

async function answerCalibrate(msg: Msg, calibrate: NonNullable<RpcHandlers["calibrate"]>) {
  let request: unknown;
  try {
    request = msg.json();
  } catch {
    msg.respond(encodeJson({ ok: false, error: "request is not JSON" }));
    return;
  }
  let reply: CalibrateReply;
  try {
    reply = await calibrate(request);
  } catch (err) {
    reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  msg.respond(encodeJson(reply));
}

async function answerMeasure(msg: Msg, handlers: RpcHandlers) {
  const parsed = measureLatencyHeadersSchema.safeParse({
    variantId: msg.headers?.get("variantId"),
    batch: msg.headers?.get("batch"),
  });
  let reply: MeasureLatencyReply;
  if (!parsed.success) {
    reply = { ok: false, error: describeZodError(parsed.error) };
  } else {
    try {
      reply = await handlers.measureLatency(msg.data, parsed.data.variantId, parsed.data.batch);
    } catch (err) {
      reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }
  msg.respond(encodeJson(reply));
}
