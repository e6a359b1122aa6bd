// NATS subject builders. Every subject Edgefleet uses is built here so that permissions,
// stream filters and publishers cannot drift apart.
export const SUBJECT_PREFIX = "ef.v1";

const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class InvalidSubjectTokenError extends Error {
  override name = "InvalidSubjectTokenError";
}

/** Device ids become subject tokens: refuse anything that could widen a subject (".", "*", ">"). */
export function assertSubjectToken(token: string, what = "deviceId"): string {
  if (!DEVICE_ID.test(token)) {
    throw new InvalidSubjectTokenError(
      `${what} ${JSON.stringify(token)} is not a valid subject token`,
    );
  }
  return token;
}

export const subjects = {
  /** Everything a device may publish. */
  devAll: (deviceId: string) => `${SUBJECT_PREFIX}.dev.${assertSubjectToken(deviceId)}.>`,
  telemetry: (deviceId: string) =>
    `${SUBJECT_PREFIX}.dev.${assertSubjectToken(deviceId)}.telemetry`,
  events: (deviceId: string) => `${SUBJECT_PREFIX}.dev.${assertSubjectToken(deviceId)}.events`,
  /** Liveness beats: core NATS only, never stored in a stream. */
  heartbeat: (deviceId: string) =>
    `${SUBJECT_PREFIX}.dev.${assertSubjectToken(deviceId)}.heartbeat`,
  rpc: (deviceId: string, op: string) =>
    `${SUBJECT_PREFIX}.rpc.${assertSubjectToken(deviceId)}.${assertSubjectToken(op, "op")}`,
  rpcAll: (deviceId: string) => `${SUBJECT_PREFIX}.rpc.${assertSubjectToken(deviceId)}.>`,
  inboxPrefix: (deviceId: string) => `_INBOX.${assertSubjectToken(deviceId)}`,
  /**
   * Fleet events fanned out between control-plane replicas (each one's WebSocket clients see
   * every replica's events). Core NATS; devices can neither publish nor subscribe here.
   */
  fleetEvents: `${SUBJECT_PREFIX}.fleet.events`,
  // --- access (issue 11) ---
  /**
   * API token revocations fanned out between control-plane replicas, so each closes its open
   * WebSockets of that token at once. Core NATS; devices can neither publish nor subscribe here.
   */
  apiTokenRevoked: `${SUBJECT_PREFIX}.auth.revoked`,
  /** Wildcards the control plane subscribes to. */
  anyTelemetry: `${SUBJECT_PREFIX}.dev.*.telemetry`,
  anyEvents: `${SUBJECT_PREFIX}.dev.*.events`,
  anyHeartbeat: `${SUBJECT_PREFIX}.dev.*.heartbeat`,
  // --- sharded batch jobs (apps/control-plane/src/jobs) ---
  /** Work queue of one job's shards (stream JOBS); only the control plane reads or writes it. */
  jobShards: (jobId: string) =>
    `${SUBJECT_PREFIX}.jobs.${assertSubjectToken(jobId, "jobId")}.shards`,
  /** A device asks for its next shard (core request/reply; never captured by a stream). */
  jobNext: (deviceId: string, jobId: string) =>
    `${SUBJECT_PREFIX}.dev.${assertSubjectToken(deviceId)}.jobs.${assertSubjectToken(jobId, "jobId")}.next`,
  /** A device's shard results (stream JOB_RESULTS), published as itself. */
  jobResults: (deviceId: string, jobId: string) =>
    `${SUBJECT_PREFIX}.dev.${assertSubjectToken(deviceId)}.jobs.${assertSubjectToken(jobId, "jobId")}.results`,
  /**
   * A device still holds a shard (received, queued behind another or running): the control plane
   * resets that shard's ack wait (core NATS, never captured by a stream).
   */
  jobWorking: (deviceId: string, jobId: string) =>
    `${SUBJECT_PREFIX}.dev.${assertSubjectToken(deviceId)}.jobs.${assertSubjectToken(jobId, "jobId")}.working`,
  anyJobNext: `${SUBJECT_PREFIX}.dev.*.jobs.*.next`,
  anyJobWorking: `${SUBJECT_PREFIX}.dev.*.jobs.*.working`,
  anyJobResults: `${SUBJECT_PREFIX}.dev.*.jobs.*.results`,

  // --- pipeline-split inference (issue 9) ---
  /**
   * Device to device: `ef.v1.peer.<to>.<from>.<pipelineId>`. A device may publish only with
   * itself as <from> and subscribe only with itself as <to> (the JWT template), so the sender
   * token is authentic and nobody reads traffic addressed to another device.
   */
  peer: (to: string, from: string, pipelineId: string) =>
    `${SUBJECT_PREFIX}.peer.${assertSubjectToken(to, "to")}.${assertSubjectToken(from, "from")}.${assertSubjectToken(pipelineId, "pipelineId")}`,
  /** What a device may publish to peers: anyone, stamped as itself. */
  peerFrom: (from: string) => `${SUBJECT_PREFIX}.peer.*.${assertSubjectToken(from, "from")}.>`,
  /** What a device may receive from peers: only what is addressed to it. */
  peerTo: (to: string) => `${SUBJECT_PREFIX}.peer.${assertSubjectToken(to, "to")}.*.>`,
  /** The last stage's answers, published as itself (core NATS, not in a stream). */
  pipelineResult: (deviceId: string, pipelineId: string) =>
    `${SUBJECT_PREFIX}.dev.${assertSubjectToken(deviceId)}.pipeline.${assertSubjectToken(pipelineId, "pipelineId")}.result`,
  anyPipelineResult: `${SUBJECT_PREFIX}.dev.*.pipeline.*.result`,
} as const;

/** The sender (<from>) token of a peer subject. */
export function peerSenderFromSubject(subject: string): string | undefined {
  const parts = subject.split(".");
  return parts[0] === "ef" && parts[1] === "v1" && parts[2] === "peer" ? parts[4] : undefined;
}

/** rpc ops of pipeline-split inference. */
export const PIPELINE_OPS = {
  /** A device's stage of a pipeline plan (or its removal). */
  assign: "pipeline",
  /** A request entering stage 1 (from the control plane only: devices cannot publish rpc). */
  input: "pipeline-input",
  /** Link probe: the device answers with the bytes it got. */
  echo: "echo",
} as const;

/** The device id is the third token of every `ef.v1.dev.<id>.*` subject. */
export function deviceIdFromSubject(subject: string): string | undefined {
  const parts = subject.split(".");
  return parts[0] === "ef" && parts[1] === "v1" && parts[2] === "dev" ? parts[3] : undefined;
}

export const STREAMS = {
  telemetry: { name: "TELEMETRY", subjects: [`${SUBJECT_PREFIX}.dev.*.telemetry`] },
  events: { name: "EVENTS", subjects: [`${SUBJECT_PREFIX}.dev.*.events`] },
  /** Work queue: a shard leaves the stream when the control plane acks (or terms) it. */
  jobs: { name: "JOBS", subjects: [`${SUBJECT_PREFIX}.jobs.*.shards`] },
  jobResults: { name: "JOB_RESULTS", subjects: [`${SUBJECT_PREFIX}.dev.*.jobs.*.results`] },
} as const;

/** JetStream key-value buckets. */
export const KV_BUCKETS = {
  /** key `<deviceId>`: the device's DesiredState (history 1). */
  desired: "desired",
} as const;

/** Object stores. */
export const OBJECT_STORES = {
  /** object name: sha256 hex of the artifact bytes. */
  artifacts: "artifacts",
} as const;

/** The stream subject holding one key of a KV bucket (what a direct get names). */
export function kvSubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${assertSubjectToken(key, "key")}`;
}

/** The rpc op that tells a device its desired state changed. */
export const DESIRED_NOTICE_OP = "desired";

/** The rpc op that tells a device a job it belongs to has work (the notice names the job). */
export const JOB_NOTICE_OP = "job";
