import { isUuid } from "./client";
import type { Plan, PlanDecision, Prisma, PrismaClient } from "./generated/prisma/client";

export interface NewPlanDecision {
  deviceId: string;
  variantId?: string | null;
  ok: boolean;
  /** Human-readable, e.g. "int4: int8 predicted 41 ms > SLO 30 ms". */
  reasons: string[];
  predictedLatencyMs?: number | null;
  predictedMemoryBytes?: bigint | number | null;
}

export interface NewPlan {
  modelId: string;
  selector: Prisma.InputJsonValue;
  policy: Prisma.InputJsonValue;
  dryRun?: boolean;
  decisions: NewPlanDecision[];
}

export type PlanWithDecisions = Plan & { decisions: PlanDecision[] };

export interface PlanRepo {
  /** The plan and all its decisions, written together or not at all. */
  create(input: NewPlan): Promise<PlanWithDecisions>;
  findById(id: string): Promise<PlanWithDecisions | null>;
  listByModel(modelId: string, limit?: number): Promise<Plan[]>;
}

export class PrismaPlanRepo implements PlanRepo {
  constructor(private readonly db: PrismaClient) {}

  create(input: NewPlan): Promise<PlanWithDecisions> {
    const { decisions, ...plan } = input;
    // A nested create runs in one transaction.
    return this.db.plan.create({
      data: {
        ...plan,
        decisions: {
          create: decisions.map((d) => ({
            ...d,
            predictedMemoryBytes:
              d.predictedMemoryBytes == null ? null : BigInt(d.predictedMemoryBytes),
          })),
        },
      },
      include: { decisions: true },
    });
  }

  findById(id: string): Promise<PlanWithDecisions | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.db.plan.findUnique({ where: { id }, include: { decisions: true } });
  }

  listByModel(modelId: string, limit = 50): Promise<Plan[]> {
    if (!isUuid(modelId)) return Promise.resolve([]);
    return this.db.plan.findMany({
      where: { modelId },
      orderBy: { createdAt: "desc" },
      take: limit,
    });
  }
}
