// What the control plane's REST API answers, as JSON: one declaration that the control plane
// builds, and the CLI and the web console read. Types only (no runtime code), so a browser
// bundle can import them (`@edgefleet/protocol/rest`) without pulling in zod or node code.

/** Every error body: `field` names the input that was wrong, when one was. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** API token roles, ordered: an admin can do what an operator can, an operator what a viewer can. */
export type Role = "admin" | "operator" | "viewer";

/** GET /api/v1/me: who the bearer token is. */
export interface MeView {
  tokenId: string;
  role: Role;
}

// --- access (issue 11): API tokens and the audit log ---

/** GET /api/v1/api-tokens: a token without its secret. */
export interface ApiTokenView {
  id: string;
  name: string;
  role: Role;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

/** POST /api/v1/api-tokens: the secret, shown this once (only its hash is stored). */
export interface CreatedApiToken extends ApiTokenView {
  token: string;
}

export interface AuditEventView {
  /** A decimal string (the row id is a 64-bit integer). */
  id: string;
  at: string;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  data: unknown;
}

/** GET /api/v1/audit: newest first; pass `nextCursor` back as `cursor` for the next page. */
export interface AuditPage {
  items: AuditEventView[];
  nextCursor: string | null;
}

export type DeviceStatus = "enrolled" | "online" | "offline" | "decommissioned";

/** POST /api/v1/devices/:id/decommission (issue 11). */
export interface DeviceDecommissionView {
  device: DeviceView;
  /** false when the device was decommissioned before (nothing changed). */
  changed: boolean;
  /** Rollout targets no longer waited for. */
  skippedTargets: number;
  /** true once NATS holds the revocation; false: the control plane keeps retrying. */
  revocationPushed: boolean;
}

export interface DeviceView {
  id: string;
  name: string;
  status: string;
  arch: string;
  cores: number;
  ramBytes: number;
  cpuModel: string;
  cpuFlags: string[];
  accelerators: string[];
  agentVersion: string;
  simulated: boolean;
  deviceClass: string | null;
  labels: Record<string, string>;
  facts: unknown;
  lastSeenAt: string | null;
  createdAt: string;
}

/** What a device should run. */
export interface DesiredView {
  generation: number;
  variantId: string | null;
  variantName: string | null;
  model: { id: string; name: string; version: string } | null;
  digest: string | null;
  options: unknown;
  assignedBy: string;
  updatedAt: string;
}

/** What a device last said it runs. */
export interface ReportedView {
  generation: number;
  phase: string;
  step: string | null;
  serving: { generation: number; variantId: string | null; digest: string | null } | null;
  error: string | null;
  /** The serving variant's result on the assignment's canary set. */
  canary: { digest: string; samples: number; correct: number } | null;
  sentAt: string;
  receivedAt: string;
}

export interface DeploymentView {
  deviceId: string;
  desired: DesiredView | null;
  reported: ReportedView | null;
  /** The device reports serving exactly the desired generation. */
  inSync: boolean;
}

/** A device with what it should run and what it reports running. */
export interface DeviceDetailView extends DeviceView {
  deployment: DeploymentView;
}

/**
 * PATCH /api/v1/devices/:id/labels (the request body): `set` adds or overwrites, `remove`
 * deletes; other labels stay. The answer is the device (DeviceDetailView).
 */
export interface DeviceLabelsPatch {
  set?: Record<string, string>;
  remove?: string[];
}

export interface DevicePageView {
  items: DeviceDetailView[];
  total: number;
  nextCursor: string | null;
}

export interface ProfileView {
  id: string;
  deviceId: string;
  measuredAt: string;
  agentVersion: string;
  threads: number;
  simulated: boolean;
  deviceClass: string | null;
  fp32Gflops: number;
  int8Gops: number;
  int4Gops: number | null;
  memBandwidthGBs: number;
  loadTimeMs: number | null;
  nativeKernels: string[];
  profile: unknown;
}

/** POST /api/v1/devices/:id/latency-measurements: what the device measured. */
export interface LatencyFigures {
  bestMs: number;
  medianMs: number;
  p90Ms: number;
}

export interface LatencyMeasurementView {
  ok: true;
  variantId: string;
  threads: number;
  simulated: boolean;
  deviceClass: string;
  batch1: LatencyFigures;
  batchN: LatencyFigures & { batch: number };
}

export interface CreatedEnrollmentToken {
  id: string;
  /** The secret: shown once, never stored in the clear. */
  token: string;
  label: string;
  expiresAt: string;
  maxUses: number;
}

export interface ArtifactView {
  sha256: string;
  sizeBytes: number;
  mediaType: string;
  createdAt: string;
}

export interface ArtifactUploadView {
  created: boolean;
  artifact: ArtifactView;
}

export interface VariantView {
  id: string;
  name: string;
  technique: string;
  recipe: unknown;
  onnxBytes: number;
  shippedBytes: number;
  params: number;
  accuracy: number | null;
  latencyB1Ms: number | null;
  latencyB64Ms: number | null;
  kernels: string[];
  artifactDigest: string | null;
  cost: unknown;
  runtime: unknown;
  /** False for variants imported before manifests were signed: they cannot be assigned. */
  signed: boolean;
}

export interface ModelView {
  id: string;
  name: string;
  version: string;
  input: unknown;
  createdAt: string;
}

export interface ModelListView {
  items: ModelView[];
}

/** GET /api/v1/models/:id, and what an import answers. */
export interface ModelDetailView {
  model: ModelView;
  variants: VariantView[];
}

/** Which devices a plan or a rollout covers; every field narrows. */
export interface DeviceSelector {
  deviceIds?: string[];
  labels?: Record<string, string>;
  status?: DeviceStatus;
  deviceClass?: string;
}

export interface PlanPolicy {
  latencySloMs: number;
  batch: number;
  accuracyFloor: number;
  objective: "max-accuracy" | "min-latency" | "min-bytes";
}

export interface PlanDecisionView {
  deviceId: string;
  deviceName: string;
  deviceClass: string | null;
  ok: boolean;
  variantId: string | null;
  variantName: string | null;
  predictedLatencyMs: number | null;
  predictedMemoryBytes: number | null;
  reasons: string[];
}

export interface PlanView {
  planId: string;
  modelId: string;
  dryRun: boolean;
  policy: PlanPolicy;
  /** The field measurements that corrected the predictions. */
  correction: { observations: number };
  summary: {
    devices: number;
    planned: number;
    unplannable: number;
    byVariant: Record<string, number>;
  };
  decisions: PlanDecisionView[];
}

export type RolloutState =
  | "pending"
  | "running"
  | "paused"
  | "completed"
  | "halted"
  | "aborted"
  | "rolled_back";

/** What an operator may ask of a rollout (POST /api/v1/rollouts/:id/<action>). */
export type RolloutControlAction = "start" | "pause" | "resume" | "abort" | "rollback";

export type GateName = "install" | "latency" | "errors" | "agreement" | "canary";
export type GateStatus = "pass" | "fail" | "waiting" | "off";

export interface GateReading {
  gate: GateName;
  status: GateStatus;
  /** The measured value the gate judged (a rate, ms, a share), when there is one. */
  value: number | null;
  threshold: number | null;
  detail: string;
}

export interface RolloutView {
  id: string;
  name: string;
  modelId: string;
  state: RolloutState;
  /** 1-based for people; `waves[i].wave` matches. */
  currentWave: number;
  waves: { wave: number; devices: number; states: Record<string, number> }[];
  gates: GateReading[];
  haltReason: string | null;
  selector: unknown;
  policy: unknown;
  strategy: unknown;
  canaryDigest: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/** POST /api/v1/rollouts with `dryRun: true`: the plan per wave, nothing stored. */
export interface RolloutDryRunView {
  dryRun: true;
  waves: {
    wave: number;
    devices: {
      deviceId: string;
      deviceName: string;
      deviceClass: string | null;
      variantName: string | null;
      predictedLatencyMs: number | null;
      reasons: string[];
    }[];
  }[];
}

export interface RolloutSummaryView {
  id: string;
  name: string;
  modelId: string;
  state: string;
  currentWave: number;
  haltReason: string | null;
  createdAt: string;
}

export interface RolloutListView {
  items: RolloutSummaryView[];
}

export interface RolloutTargetView {
  deviceId: string;
  deviceName: string;
  wave: number;
  variantId: string | null;
  state: string;
  reasons: unknown;
  generation: number | null;
  previousVariantId: string | null;
  joinedLate: boolean;
}

export interface RolloutTargetsView {
  items: RolloutTargetView[];
}

/** One move of the re-targeting loop (or a rollout's revert), with its reasons. */
export interface RetargetMoveView {
  at: string;
  action: string;
  fromVariantId: string | null;
  toVariantId: string | null;
  reason: string;
  measuredMs: number | null;
  sloMs: number | null;
  rolloutId: string | null;
}

export interface RetargetMovesView {
  items: RetargetMoveView[];
}

/** Merged telemetry of any group of rollups (a device over an hour, a wave, a variant). */
export interface RollupSummary {
  messages: number;
  requests: number;
  errors: number;
  rejected: number;
  runs: number;
  samples: number;
  /** Requests answered per second over the span. */
  throughputPerS: number;
  /** Samples per run: the mean micro-batch; null without runs. */
  meanBatch: number | null;
  /** End-to-end latency of answered requests; null without any. */
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  meanMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  /** Single-sample run time; null without any. */
  runP50Ms: number | null;
  runP95Ms: number | null;
  runMeanMs: number | null;
  queueDepthMax: number;
  cpuPercentMax: number;
  rssBytesMax: number;
}

/** GET /api/v1/devices/:id/telemetry: latency and load over a span, as a series and a summary. */
export interface DeviceTelemetryView {
  deviceId: string;
  from: string;
  to: string;
  stepSeconds: number;
  summary: RollupSummary;
  variants: { variantId: string; summary: RollupSummary }[];
  /** Oldest first; only buckets with rows appear. */
  series: (RollupSummary & { at: string })[];
}

/**
 * `data` of a `device.telemetry` event on the stream (/api/v1/stream): the figures of one
 * folded telemetry window of one device and variant, within the minute it fell in.
 */
export interface TelemetryEventData extends RollupSummary {
  variantId: string;
  minute: string;
}
