// Pipelines (pipeline-split inference), their stages per plan version, and measured links.
import { type Db, isUuid } from "./client";
import type {
  DeviceLink,
  Pipeline,
  PipelineStage,
  Prisma,
  PrismaClient,
} from "./generated/prisma/client";

export type { DeviceLink, Pipeline, PipelineStage };

export interface NewPipelineStage {
  index: number;
  deviceId: string;
  precision: string;
  firstSegment: number;
  lastSegment: number;
  artifactDigest: string;
  sizeBytes: number;
  manifest: Prisma.InputJsonObject;
  signature: string;
  computeMs: number;
}

export interface NewPipeline {
  id: string;
  name: string;
  modelId: string;
  variantId: string;
  objective: string;
  precisions: string[];
  deviceIds: string[];
  placement: Prisma.InputJsonObject;
  reasons: string[];
  stages: NewPipelineStage[];
}

export type PipelineWithStages = Pipeline & { stages: PipelineStage[] };

export interface PipelineRepo {
  saveLink(link: Omit<DeviceLink, "measuredAt">): Promise<DeviceLink>;
  links(deviceIds: readonly string[]): Promise<Map<string, DeviceLink>>;
  /** The pipeline and its plan-1 stages, in one transaction. */
  create(p: NewPipeline): Promise<PipelineWithStages>;
  /** With the stages of its current plan only. */
  find(id: string): Promise<PipelineWithStages | null>;
  list(): Promise<Pipeline[]>;
  /** Running pipelines one of whose stages (current plan) runs on the device. */
  runningOn(deviceId: string): Promise<Pipeline[]>;
  /**
   * Writes plan `fromVersion + 1` if the pipeline is still at `fromVersion` (a fencing check: two
   * re-plans of the same loss cannot both win); null when another got there first.
   */
  replan(
    id: string,
    fromVersion: number,
    plan: { placement: Prisma.InputJsonObject; reasons: string[]; stages: NewPipelineStage[] },
  ): Promise<PipelineWithStages | null>;
  /** true when this call stopped it (it was running); `note` says who and why. */
  markStopped(id: string, note: string): Promise<boolean>;
  fail(id: string, error: string): Promise<void>;
}

export class PrismaPipelineRepo implements PipelineRepo {
  constructor(private readonly db: PrismaClient) {}

  saveLink(link: Omit<DeviceLink, "measuredAt">): Promise<DeviceLink> {
    const data = { ...link, measuredAt: new Date() };
    return this.db.deviceLink.upsert({
      where: { deviceId: link.deviceId },
      create: data,
      update: data,
    });
  }

  async links(deviceIds: readonly string[]): Promise<Map<string, DeviceLink>> {
    const rows = await this.db.deviceLink.findMany({ where: { deviceId: { in: [...deviceIds] } } });
    return new Map(rows.map((r) => [r.deviceId, r]));
  }

  async create(p: NewPipeline): Promise<PipelineWithStages> {
    const { stages, ...rest } = p;
    return this.db.pipeline.create({
      data: {
        ...rest,
        status: "running",
        planVersion: 1,
        stages: { create: stages.map((s) => ({ ...s, planVersion: 1 })) },
      },
      include: { stages: { orderBy: { index: "asc" } } },
    });
  }

  async find(id: string): Promise<PipelineWithStages | null> {
    if (!isUuid(id)) return null;
    const p = await this.db.pipeline.findUnique({ where: { id } });
    if (!p) return null;
    const stages = await this.db.pipelineStage.findMany({
      where: { pipelineId: id, planVersion: p.planVersion },
      orderBy: { index: "asc" },
    });
    return { ...p, stages };
  }

  list(): Promise<Pipeline[]> {
    return this.db.pipeline.findMany({ orderBy: { createdAt: "asc" } });
  }

  async runningOn(deviceId: string): Promise<Pipeline[]> {
    const rows = await this.db.$queryRaw<{ id: string }[]>`
      SELECT p.id FROM "Pipeline" p JOIN "PipelineStage" s
        ON s."pipelineId" = p.id AND s."planVersion" = p."planVersion"
      WHERE p.status = 'running' AND s."deviceId" = ${deviceId}::uuid`;
    if (!rows.length) return [];
    return this.db.pipeline.findMany({ where: { id: { in: rows.map((r) => r.id) } } });
  }

  async replan(
    id: string,
    fromVersion: number,
    plan: { placement: Prisma.InputJsonObject; reasons: string[]; stages: NewPipelineStage[] },
  ): Promise<PipelineWithStages | null> {
    return this.db.$transaction(async (tx: Db) => {
      const next = fromVersion + 1;
      const moved = await tx.pipeline.updateMany({
        where: { id, planVersion: fromVersion, status: "running" },
        data: { planVersion: next, placement: plan.placement, reasons: plan.reasons },
      });
      if (moved.count !== 1) return null;
      await tx.pipelineStage.createMany({
        data: plan.stages.map((s) => ({ ...s, pipelineId: id, planVersion: next })),
      });
      const p = await tx.pipeline.findUniqueOrThrow({ where: { id } });
      const stages = await tx.pipelineStage.findMany({
        where: { pipelineId: id, planVersion: next },
        orderBy: { index: "asc" },
      });
      return { ...p, stages };
    });
  }

  /** true when this call stopped it (it was running). */
  async markStopped(id: string, note: string): Promise<boolean> {
    const { count } = await this.db.pipeline.updateMany({
      where: { id, status: "running" },
      data: { status: "stopped", error: note },
    });
    return count === 1;
  }

  async fail(id: string, error: string): Promise<void> {
    await this.db.pipeline.update({ where: { id }, data: { status: "failed", error } });
  }
}
