// Dispatch: what the control plane wants a device to run (desired state, in the KV bucket
// `desired`), the signed manifest that describes the artifact, and what the device reports back.
import { z } from "zod";
import { epochMsSchema, int4Schema, textSchema } from "./bounds";

export const MEDIA_TYPES = {
  onnx: "application/onnx",
  efpk: "application/vnd.edgefleet.efpk",
  /** A labelled canary set (EFCS): inputs and labels a device evaluates a variant on. */
  canary: "application/vnd.edgefleet.canary",
} as const;
export type ArtifactMediaType = (typeof MEDIA_TYPES)[keyof typeof MEDIA_TYPES];

export const sha256HexSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");

const kernelTypeSchema = z.enum(["fp32", "fp16", "int8", "int4"]);

/**
 * What a device needs to know about an artifact before and after downloading it. The control
 * plane signs its canonical JSON (see @edgefleet/artifact); a device trusts nothing unsigned.
 */
export const artifactManifestSchema = z.object({
  schema: z.literal(1),
  digest: sha256HexSchema,
  sizeBytes: z.number().int().positive(),
  mediaType: z.enum([MEDIA_TYPES.onnx, MEDIA_TYPES.efpk]),
  model: z.object({ id: z.string().uuid(), name: z.string().max(64), version: z.string().max(64) }),
  variant: z.object({
    id: z.string().uuid(),
    name: z.string().max(64),
    technique: z.string().max(64),
    recipe: z.array(z.unknown()).max(20),
  }),
  input: z.object({
    name: z.string().min(1).max(128),
    sampleDims: z.array(z.number().int().positive()).min(1).max(8),
  }),
  runtime: z.object({
    /** Op types of the graph ONNX Runtime runs (after its fusions), e.g. `com.microsoft:QGemm`. */
    kernels: z.array(z.string().max(64)).max(64),
    /** The arithmetic doing most of the work; a simulated class slows by its factor for it. */
    kernelType: kernelTypeSchema,
    /** Highest default-domain opset the model imports; 0 when unknown. */
    opset: z.number().int().nonnegative(),
    /** Predicted resident memory while serving at batch 1 (planner's memory model). */
    memoryBytes: z.number().int().nonnegative(),
    /** Open with `session.disable_quant_qdq=1` (weight-only DequantizeLinear formats). */
    disableQuantQdq: z.boolean(),
  }),
  /** What compression measured: the accuracy budget the field is held to. */
  quality: z.object({
    metric: z.enum(["accuracy", "fidelity"]),
    value: z.number().min(0).max(1),
    fidelity: z.record(z.string(), z.unknown()).optional(),
  }),
  issuedAt: z.string(),
  /** sha256 (hex, first 16) of the signing public key's DER, so keys can rotate. */
  keyId: z.string().max(64),
});
export type ArtifactManifest = z.infer<typeof artifactManifestSchema>;

export const runtimeOptionsSchema = z.object({
  /** ONNX Runtime intra-op threads; 0 = the agent's default. */
  threads: z.number().int().min(0).max(256).default(0),
  /** Micro-batching of concurrent local requests; maxBatch 1 turns it off. */
  maxBatch: z.number().int().min(1).max(1024).default(16),
  /**
   * How long a request may wait for others to join its batch. 0 still stacks what queued during
   * the previous run (most of the gain for small models, measured in docs/benchmarks/dispatch.md)
   * without making a lone client wait.
   */
  maxDelayMs: z.number().min(0).max(1000).default(0),
  /** Requests waiting beyond this many are refused (429 / RESOURCE_EXHAUSTED). */
  queueLimit: z.number().int().min(1).max(100_000).default(256),
});
export type RuntimeOptions = z.infer<typeof runtimeOptionsSchema>;

/** The value of KV `desired.<deviceId>`. `assignment: null` asks the device to run nothing. */
export const desiredStateSchema = z.object({
  version: z.literal(1),
  deviceId: z.string().min(1).max(64),
  /** Only goes up; a device ignores anything not newer than what it has seen. */
  generation: z.number().int().positive(),
  updatedAt: z.string(),
  assignment: z
    .object({
      manifest: artifactManifestSchema,
      /**
       * Ed25519 signature of the manifest's canonical JSON, base64. Empty means unsigned: it
       * parses, so the device can report why it refuses it.
       */
      signature: z.string().max(200),
      options: runtimeOptionsSchema,
      /**
       * Shadow mode (a rollout's quality gate): the device keeps what served before loaded,
       * runs it too on this fraction of live requests after answering with the new variant,
       * and reports how often their top-1 agrees (telemetry `shadow`). null: off.
       */
      shadow: z
        .object({ sampleRate: z.number().gt(0).max(1) })
        .nullable()
        .default(null),
      /**
       * A labelled canary set (object store `artifacts`, EFCS format, see @edgefleet/artifact)
       * the device evaluates the variant on once loaded, reporting the result with its state.
       */
      canary: z
        .object({
          digest: sha256HexSchema,
          sizeBytes: z.number().int().positive(),
          samples: z.number().int().positive(),
        })
        .nullable()
        .default(null),
    })
    .nullable(),
  /** The rollout that wrote this desired state, if one did (for reports and telemetry). */
  rolloutId: z.string().uuid().nullable().default(null),
});
export type DesiredState = z.infer<typeof desiredStateSchema>;
export type Assignment = NonNullable<DesiredState["assignment"]>;

/** Sent on `ef.v1.rpc.<id>.desired` after a write: "fetch your desired state" (no payload needed). */
export const desiredNoticeSchema = z.object({ generation: z.number().int().positive() });

export const reconcilePhaseSchema = z.enum([
  /** Working on `generation`: the step says where. */
  "applying",
  /** Serving `generation`. */
  "applied",
  /** `generation` could not be applied; the device keeps serving what `serving` says. */
  "failed",
  /** `generation` was applied, then failed in service (crashes, warm-up); back on the last good. */
  "rolled-back",
]);
export type ReconcilePhase = z.infer<typeof reconcilePhaseSchema>;

const servingSchema = z.object({
  generation: int4Schema,
  variantId: textSchema(64),
  digest: sha256HexSchema,
});
export type ServingRef = z.infer<typeof servingSchema>;

/** The device's reported state: part of the events stream as `{type: "state", ...}`. */
export const stateReportSchema = z.object({
  type: z.literal("state"),
  sentAt: epochMsSchema,
  /** The desired generation this report is about (0 before any desired state was seen). */
  generation: int4Schema,
  phase: reconcilePhaseSchema,
  /** With "applying": download, verify, load, warmUp, swap, unload. */
  step: textSchema(32).optional(),
  /** What answers local requests now; null when nothing is loaded. */
  serving: servingSchema.nullable(),
  error: textSchema(1000).optional(),
  /** Top-1 accuracy of the serving variant on the assignment's canary set, once evaluated. */
  canary: z
    .object({
      digest: sha256HexSchema,
      samples: int4Schema,
      correct: int4Schema,
    })
    .optional(),
});
export type StateReport = z.infer<typeof stateReportSchema>;
