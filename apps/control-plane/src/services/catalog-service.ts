// Models and their variant catalogues, imported from `edgefleet compress` output.
import { DuplicateModelError, type Model, type Repos, type Variant } from "@edgefleet/db";
import { z } from "zod";
import { ConflictError, InvalidArgumentError, NotFoundError } from "../errors";
import { type Principal, requireRole } from "./auth-service";
import { parseInput } from "./validation";

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

const variantSchema = z.object({
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
}

export interface ModelView {
  id: string;
  name: string;
  version: string;
  input: unknown;
  createdAt: string;
}

export class CatalogService {
  constructor(
    private readonly deps: { repos: Pick<Repos, "catalog" | "importCatalogue" | "audit"> },
  ) {}

  async importModel(principal: Principal, body: unknown) {
    requireRole(principal, "operator");
    const input = parseInput(importModelSchema, body);
    const names = new Set<string>();
    input.variants.forEach((v, i) => {
      if (names.has(v.name))
        throw new InvalidArgumentError(`variants.${i}.name`, `${v.name} appears twice`);
      names.add(v.name);
    });
    const artifacts = new Map(
      input.variants.map((v) => [
        v.artifact.sha256,
        {
          digest: v.artifact.sha256,
          sizeBytes: v.artifact.bytes,
          mediaType:
            v.artifact.format === "onnx" ? "application/onnx" : "application/vnd.edgefleet.packed",
        },
      ]),
    );
    let result: Awaited<ReturnType<Repos["importCatalogue"]>>;
    try {
      result = await this.deps.repos.importCatalogue({
        model: {
          name: input.name,
          version: input.version,
          inputShape: { ...input.input, metric: input.metric },
        },
        artifacts: [...artifacts.values()],
        variants: input.variants.map((v) => ({
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
          artifactDigest: v.artifact.sha256,
        })),
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

  async listModels() {
    return { items: (await this.deps.repos.catalog.listModels()).map(modelView) };
  }

  async getModel(id: string) {
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
  };
}
