import {
  type NewArtifact,
  type NewModel,
  type NewVariant,
  PrismaCatalogRepo,
} from "./catalog-repo";
import { isUniqueViolation } from "./client";
import type { Model, PrismaClient, Variant } from "./generated/prisma/client";

export class DuplicateModelError extends Error {
  override name = "DuplicateModelError";
  constructor(
    readonly modelName: string,
    readonly version: string,
    options?: { cause?: unknown },
  ) {
    super(`model ${modelName} version ${version} already exists`, options);
  }
}

/** A model with its variants and their artifacts, written in one transaction: all or nothing. */
export async function importCatalogue(
  prisma: PrismaClient,
  input: {
    model: NewModel;
    artifacts: NewArtifact[];
    variants: Omit<NewVariant, "modelId">[];
  },
): Promise<{ model: Model; variants: Variant[] }> {
  try {
    return await prisma.$transaction(async (tx) => {
      const repo = new PrismaCatalogRepo(tx);
      const model = await repo.createModel(input.model);
      for (const artifact of input.artifacts) await repo.putArtifact(artifact);
      const variants: Variant[] = [];
      for (const v of input.variants)
        variants.push(await repo.createVariant({ ...v, modelId: model.id }));
      return { model, variants };
    });
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new DuplicateModelError(input.model.name, input.model.version, { cause: err });
    }
    throw err;
  }
}
