import type { Db } from "./client";
import { isUuid } from "./client";
import type { LatencyObservation, LatencySource } from "./generated/prisma/client";

export interface NewLatencyObservation {
  deviceId: string;
  variantId: string;
  batch: number;
  latencyMs: number;
  measuredAt?: Date;
  source: LatencySource;
}

/** Latencies the fleet measured, which the planner's predictions learn from. */
export interface LatencyRepo {
  add(observations: NewLatencyObservation[]): Promise<number>;
  /** Newest first. */
  recent(deviceId: string, variantId: string, limit?: number): Promise<LatencyObservation[]>;
  /** Newest first, across the given variants (one model's catalogue), capped at `limit`. */
  forVariants(variantIds: string[], since: Date, limit?: number): Promise<LatencyObservation[]>;
}

export class PrismaLatencyRepo implements LatencyRepo {
  constructor(private readonly db: Db) {}

  async add(observations: NewLatencyObservation[]): Promise<number> {
    if (observations.length === 0) return 0;
    const res = await this.db.latencyObservation.createMany({ data: observations });
    return res.count;
  }

  recent(deviceId: string, variantId: string, limit = 100): Promise<LatencyObservation[]> {
    if (!isUuid(deviceId) || !isUuid(variantId)) return Promise.resolve([]);
    return this.db.latencyObservation.findMany({
      where: { deviceId, variantId },
      orderBy: { measuredAt: "desc" },
      take: limit,
    });
  }

  forVariants(variantIds: string[], since: Date, limit = 50_000): Promise<LatencyObservation[]> {
    const ids = variantIds.filter(isUuid);
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.latencyObservation.findMany({
      where: { variantId: { in: ids }, measuredAt: { gte: since } },
      orderBy: { measuredAt: "desc" },
      take: limit,
    });
  }
}
