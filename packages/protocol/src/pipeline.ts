// Wire types of pipeline-split inference: a device's stage assignment (rpc `pipeline`) and the
// headers every activation carries (stage input, peer hop, result).
import { z } from "zod";
import { artifactManifestSchema } from "./dispatch";

const token = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const pipelineStageAssignmentSchema = z.discriminatedUnion("action", [
  z.object({
    action: z.literal("run"),
    pipelineId: token,
    /** Goes up with every re-plan; activations of another plan are dropped. */
    planVersion: z.number().int().positive(),
    stageIndex: z.number().int().nonnegative(),
    stageCount: z.number().int().positive(),
    manifest: artifactManifestSchema,
    signature: z.string().max(200),
    /** The only device whose activations this stage accepts; null: stage 1, fed by the control plane. */
    upstream: token.nullable(),
    /** Where the output goes; null: the last stage, which publishes the result. */
    downstream: token.nullable(),
  }),
  z.object({ action: z.literal("stop"), pipelineId: token }),
]);
export type PipelineStageAssignment = z.infer<typeof pipelineStageAssignmentSchema>;

export type PipelineAssignReply = { ok: true; loadMs: number } | { ok: false; error: string };

/** Headers of an activation message; its payload is the float32 tensor, row-major. */
export const ACTIVATION_HEADERS = {
  /** On a stage-1 input (the rpc subject does not name the pipeline). */
  pipeline: "ef-pipeline",
  request: "ef-request",
  plan: "ef-plan",
  dims: "ef-dims",
  /** Unix ms after which nobody waits for the answer any more. */
  deadline: "ef-deadline",
  /** On a result: the stage that failed and why (the payload is then empty). */
  error: "ef-error",
} as const;

export function encodeDims(dims: readonly number[]): string {
  return dims.join(",");
}

export function decodeDims(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const dims = text.split(",").map(Number);
  return dims.every((d) => Number.isInteger(d) && d > 0) && dims.length <= 8 ? dims : undefined;
}

/** REST views of pipelines (`/api/v1/pipelines`). */
export interface PipelineView {
  id: string;
  name: string;
  modelId: string;
  variantId: string;
  objective: string;
  strategy: string;
  status: string;
  planVersion: number;
  deviceIds: string[];
  stages: {
    index: number;
    deviceId: string;
    precision: string;
    segments: [number, number];
    artifactDigest: string;
    sizeBytes: number;
    predictedComputeMs: number;
  }[];
  predicted: { bottleneckMs: number; latencyMs: number; throughputPerSecond: number };
  /** What memory-proportional placement would have done, for comparison. */
  memoryProportional: {
    bottleneckMs: number;
    latencyMs: number;
    feasible: boolean;
    devices: string[];
  } | null;
  reasons: string[];
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The answer of `POST /api/v1/pipelines/:id/infer`. */
export interface InferView {
  requestId: string;
  pipelineId: string;
  planVersion: number;
  attempts: number;
  dims: number[];
  output: number[];
  ms: number;
}
