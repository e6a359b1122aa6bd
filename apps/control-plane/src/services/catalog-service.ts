// Models and their variant catalogues, imported from `edgefleet compress` output. Every
// variant's artifact must have been uploaded first; the import signs each variant's manifest.
import { randomUUID } from "node:crypto";
import { DuplicateModelError, type Model, type Repos, type Variant } from "@edgefleet/db";
import { estimateMemory } from "@edgefleet/planner";
import { type ArtifactManifest, MEDIA_TYPES } from "@edgefleet/protocol";
import type {
  ModelDetailView,
  ModelListView,
  ModelView,
  VariantView,
} from "@edgefleet/protocol/rest";
import { z } from "zod";
import { ConflictError, InvalidArgumentError, NotFoundError } from "../errors";
import { type Principal, requireRole } from "./auth-service";
import type { ManifestSigner } from "./dispatch-ports";
import { parseInput } from "./validation";

export type { ModelView, VariantView };

const slug = z
  .string()
  .min(1, "is required")
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, "may hold letters, digits, '.', '_', '+' and '-'");
const nonNegative = z.number().finite().nonnegative();

export const variantCostSchema = z.object({
  flops: z.object({
    fp32: nonNegative.optional(),
    fp16: nonNegative.optional(),
    int8: nonNegative.optional(),
    int4: nonNegative.optional(),
  }),
  opCount: z.number().int().nonnegative(),
  activationBytes: nonNegative,
  runtimeWeightBytes: nonNegative.optional(),
});

export const variantSchema = z.object({
  name: slug,
  technique: z.string().min(1).max(64),
  recipe: z.array(z.unknown()).max(20),
  artifact: z.object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits"),
    bytes: z.number().int().positive(),
    format: z.enum(["onnx", "packed"]),
  }),
  /** Size of the ONNX model the device loads (the artifact unpacked). */
  onnxBytes: z.number().int().positive(),
  params: z.number().int().nonnegative(),
  flopsByOp: z.record(z.string().max(64), nonNegative),
  accuracy: z.number().min(0).max(1),
  fidelity: z.record(z.string(), z.unknown()).optional(),
  latencyMs: z.object({ batch1: nonNegative, batch64: nonNegative }).optional(),
  kernels: z.array(z.string().max(64)).max(64),
  cost: variantCostSchema,
  /** How a device opens the model (catalogue entry `runtime`). */
  runtime: z.object({ disableQuantQdq: z.boolean() }).default({ disableQuantQdq: false }),
  /** Highest default-domain opset the ONNX model imports. */
  opset: z.number().int().nonnegative().max(1000).default(0),
});

export const importModelSchema = z.object({
  name: slug,
  version: slug,
  input: z.object({
    name: z.string().min(1).max(128),
    sampleDims: z.array(z.number().int().positive()).min(1).max(8),
  }),
  metric: z.enum(["accuracy", "fidelity"]),
  variants: z.array(variantSchema).min(1, "needs at least one variant").max(200),
});
export type ImportModelInput = z.input<typeof importModelSchema>;

export class CatalogService {
  constructor(
    private readonly deps: {
      repos: Pick<Repos, "catalog" | "importCatalogue" | "audit">;
      signer: ManifestSigner;
    },
  ) {}

  async importModel(principal: Principal, body: unknown): Promise<ModelDetailView> {
    requireRole(principal, "operator");
    const input = parseInput(importModelSchema, body);
    const names = new Set<string>();
    input.variants.forEach((v, i) => {
      if (names.has(v.name))
        throw new InvalidArgumentError(`variants.${i}.name`, `${v.name} appears twice`);
      names.add(v.name);
    });
    await this.checkArtifacts(input.variants);
    const modelId = randomUUID();
    const issuedAt = new Date().toISOString();
    const variants = input.variants.map((v) =>
      this.variantRow(input, v, { modelId, variantId: randomUUID(), issuedAt }),
    );
    let result: Awaited<ReturnType<Repos["importCatalogue"]>>;
    try {
      result = await this.deps.repos.importCatalogue({
        model: {
          id: modelId,
          name: input.name,
          version: input.version,
          inputShape: { ...input.input, metric: input.metric },
        },
        artifacts: [],
        variants,
      });
    } catch (err) {
      if (err instanceof DuplicateModelError) throw new ConflictError(err.message);
      throw err;
    }
    await this.deps.repos.audit.append({
      actor: `apitoken:${principal.tokenId}`,
      action: "model.imported",
      subjectType: "model",
      subjectId: result.model.id,
      data: { name: input.name, version: input.version, variants: result.variants.length },
    });
    return { model: modelView(result.model), variants: result.variants.map(variantView) };
  }

  /**
   * One more variant of an existing model (federated calibration builds them): the same
   * validation, artifact checks and signed manifest as an import's variants.
   */
  async addVariant(actor: string, modelId: string, body: unknown): Promise<VariantView> {
    const model = await this.deps.repos.catalog.findModel(modelId);
    if (!model) throw new NotFoundError(`model ${modelId} not found`);
    const v = parseInput(variantSchema, body);
    const existing = await this.deps.repos.catalog.listVariants(modelId);
    if (existing.some((e) => e.name === v.name)) {
      throw new ConflictError(`model ${model.name} already has a variant named ${v.name}`);
    }
    await this.checkArtifacts([v]);
    const shape = model.inputShape as {
      name: string;
      sampleDims: number[];
      metric?: "accuracy" | "fidelity";
    };
    const owner: ImportInput = {
      name: model.name,
      version: model.version,
      input: { name: shape.name, sampleDims: shape.sampleDims },
      metric: shape.metric ?? "accuracy",
      variants: [v],
    };
    const id = randomUUID();
    const row = await this.deps.repos.catalog.createVariant({
      modelId,
      ...this.variantRow(owner, v, { modelId, variantId: id, issuedAt: new Date().toISOString() }),
    });
    await this.deps.repos.audit.append({
      actor,
      action: "variant.added",
      subjectType: "model",
      subjectId: modelId,
      data: { variant: v.name, variantId: id },
    });
    return variantView(row);
  }

  /** A variant's catalogue row with its signed manifest (an import's variants and added ones). */
  private variantRow(
    owner: ImportInput,
    v: z.output<typeof variantSchema>,
    ids: { modelId: string; variantId: string; issuedAt: string },
  ) {
    const manifest = buildManifest(owner, v, ids, this.deps.signer);
    return {
      id: ids.variantId,
      name: v.name,
      technique: v.technique,
      recipe: v.recipe as never,
      bytes: v.onnxBytes,
      shippedBytes: v.artifact.bytes,
      params: v.params,
      flops: v.flopsByOp,
      accuracy: v.accuracy,
      fidelity: v.fidelity as never,
      latencyB1Ms: v.latencyMs?.batch1 ?? null,
      latencyB64Ms: v.latencyMs?.batch64 ?? null,
      kernels: v.kernels,
      cost: v.cost,
      runtime: v.runtime,
      manifest: manifest as never,
      manifestSignature: this.deps.signer.sign(manifest),
      artifactDigest: v.artifact.sha256,
    };
  }

  /** Each variant's artifact is stored, with the size and format the catalogue claims. */
  private async checkArtifacts(variants: readonly z.output<typeof variantSchema>[]) {
    for (const [i, v] of variants.entries()) {
      const field = `variants.${i}.artifact`;
      const stored = await this.deps.repos.catalog.findArtifact(v.artifact.sha256);
      if (!stored) {
        throw new InvalidArgumentError(
          `${field}.sha256`,
          `${v.artifact.sha256.slice(0, 12)}… is not uploaded: PUT /api/v1/artifacts/<sha256> first (edgefleet models import does)`,
        );
      }
      if (Number(stored.sizeBytes) !== v.artifact.bytes) {
        throw new InvalidArgumentError(
          `${field}.bytes`,
          `is ${v.artifact.bytes}, the uploaded artifact has ${stored.sizeBytes}`,
        );
      }
      const mediaType = v.artifact.format === "onnx" ? MEDIA_TYPES.onnx : MEDIA_TYPES.efpk;
      if (stored.mediaType !== mediaType) {
        throw new InvalidArgumentError(
          `${field}.format`,
          `is ${v.artifact.format}, the uploaded bytes are ${stored.mediaType}`,
        );
      }
    }
  }

  async listModels(): Promise<ModelListView> {
    return { items: (await this.deps.repos.catalog.listModels()).map(modelView) };
  }

  async getModel(id: string): Promise<ModelDetailView> {
    const model = await this.deps.repos.catalog.findModel(id);
    if (!model) throw new NotFoundError(`model ${id} not found`);
    const variants = await this.deps.repos.catalog.listVariants(id);
    return { model: modelView(model), variants: variants.map(variantView) };
  }
}

export function modelView(m: Model): ModelView {
  return {
    id: m.id,
    name: m.name,
    version: m.version,
    input: m.inputShape,
    createdAt: m.createdAt.toISOString(),
  };
}

export function variantView(v: Variant): VariantView {
  return {
    id: v.id,
    name: v.name,
    technique: v.technique,
    recipe: v.recipe,
    onnxBytes: Number(v.bytes),
    shippedBytes: Number(v.shippedBytes),
    params: Number(v.params),
    accuracy: v.accuracy,
    latencyB1Ms: v.latencyB1Ms,
    latencyB64Ms: v.latencyB64Ms,
    kernels: v.kernels,
    artifactDigest: v.artifactDigest,
    cost: v.cost,
    runtime: v.runtime,
    signed: Boolean(v.manifestSignature),
  };
}

type ImportInput = z.output<typeof importModelSchema>;

/** The kernel type doing most of a variant's work (a simulated class slows by its factor). */
export function dominantKernel(flops: ImportInput["variants"][number]["cost"]["flops"]) {
  const types = ["fp32", "fp16", "int8", "int4"] as const;
  return types.reduce((best, t) => ((flops[t] ?? 0) > (flops[best] ?? 0) ? t : best), "fp32");
}

function buildManifest(
  model: ImportInput,
  v: ImportInput["variants"][number],
  ids: { modelId: string; variantId: string; issuedAt: string },
  signer: ManifestSigner,
): ArtifactManifest {
  const memory = estimateMemory({
    artifactBytes: v.onnxBytes,
    runtimeWeightBytes: v.cost.runtimeWeightBytes,
    activationBytes: v.cost.activationBytes,
  });
  return {
    schema: 1,
    digest: v.artifact.sha256,
    sizeBytes: v.artifact.bytes,
    mediaType: v.artifact.format === "onnx" ? MEDIA_TYPES.onnx : MEDIA_TYPES.efpk,
    model: { id: ids.modelId, name: model.name, version: model.version },
    variant: { id: ids.variantId, name: v.name, technique: v.technique, recipe: v.recipe },
    input: model.input,
    runtime: {
      kernels: v.kernels,
      kernelType: dominantKernel(v.cost.flops),
      opset: v.opset,
      memoryBytes: Math.round(memory.totalBytes),
      disableQuantQdq: v.runtime.disableQuantQdq,
    },
    quality: {
      metric: model.metric,
      value: v.accuracy,
      ...(v.fidelity ? { fidelity: v.fidelity } : {}),
    },
    issuedAt: ids.issuedAt,
    keyId: signer.keyId,
  };
}
