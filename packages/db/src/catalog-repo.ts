import type { Db } from "./client";
import { isUuid } from "./client";
import type { Artifact, Model, Prisma, Variant } from "./generated/prisma/client";

export interface NewModel {
  /** Chosen by the caller when signed manifests must name the model before the insert. */
  id?: string;
  name: string;
  version: string;
  inputShape: Prisma.InputJsonValue;
}

export interface NewVariant {
  /** Chosen by the caller when the variant's signed manifest must name it before the insert. */
  id?: string;
  modelId: string;
  name: string;
  recipe: Prisma.InputJsonValue;
  technique: string;
  bytes: bigint | number;
  shippedBytes: bigint | number;
  params: bigint | number;
  flops: Prisma.InputJsonValue;
  accuracy?: number | null;
  fidelity?: Prisma.InputJsonValue;
  latencyB1Ms?: number | null;
  latencyB64Ms?: number | null;
  kernels?: string[];
  /** Planner cost (FLOPs by kernel type, op count, activation bytes). */
  cost?: Prisma.InputJsonValue;
  /** How a device opens the model, e.g. {disableQuantQdq: true}. */
  runtime?: Prisma.InputJsonValue;
  manifest?: Prisma.InputJsonValue;
  manifestSignature?: string;
  artifactDigest?: string | null;
}

export interface NewArtifact {
  /** sha256 hex of the bytes. */
  digest: string;
  sizeBytes: bigint | number;
  mediaType: string;
}

/** Models, their compressed variants and the content-addressed artifacts they ship as. */
export interface CatalogRepo {
  createModel(input: NewModel): Promise<Model>;
  findModel(id: string): Promise<Model | null>;
  findModelByName(name: string, version: string): Promise<Model | null>;
  listModels(): Promise<Model[]>;
  createVariant(input: NewVariant): Promise<Variant>;
  findVariant(id: string): Promise<Variant | null>;
  listVariants(modelId: string): Promise<Variant[]>;
  /** Idempotent: the digest is the identity, so a second put of the same bytes is a no-op. */
  putArtifact(input: NewArtifact): Promise<Artifact>;
  findArtifact(digest: string): Promise<Artifact | null>;
}

export class PrismaCatalogRepo implements CatalogRepo {
  constructor(private readonly db: Db) {}

  createModel(input: NewModel): Promise<Model> {
    return this.db.model.create({ data: input });
  }

  findModel(id: string): Promise<Model | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.db.model.findUnique({ where: { id } });
  }

  findModelByName(name: string, version: string): Promise<Model | null> {
    return this.db.model.findUnique({ where: { name_version: { name, version } } });
  }

  listModels(): Promise<Model[]> {
    return this.db.model.findMany({ orderBy: [{ name: "asc" }, { createdAt: "asc" }] });
  }

  createVariant(input: NewVariant): Promise<Variant> {
    return this.db.variant.create({
      data: {
        ...input,
        bytes: BigInt(input.bytes),
        shippedBytes: BigInt(input.shippedBytes),
        params: BigInt(input.params),
      },
    });
  }

  findVariant(id: string): Promise<Variant | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.db.variant.findUnique({ where: { id } });
  }

  listVariants(modelId: string): Promise<Variant[]> {
    if (!isUuid(modelId)) return Promise.resolve([]);
    return this.db.variant.findMany({ where: { modelId }, orderBy: { createdAt: "asc" } });
  }

  putArtifact(input: NewArtifact): Promise<Artifact> {
    const data = { ...input, sizeBytes: BigInt(input.sizeBytes) };
    return this.db.artifact.upsert({ where: { digest: input.digest }, create: data, update: {} });
  }

  findArtifact(digest: string): Promise<Artifact | null> {
    return this.db.artifact.findUnique({ where: { digest } });
  }
}
