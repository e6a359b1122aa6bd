// Federated calibration runs (issue 9): one row per run, updated as rounds progress.
import { isUuid } from "./client";
import type {
  CalibrationRun,
  CalibrationState,
  Prisma,
  PrismaClient,
} from "./generated/prisma/client";

export interface NewCalibrationRun {
  id?: string;
  modelId: string;
  sourceVariantId: string;
  method: string;
  percentile?: number | null;
  bins: number;
  minDevices: number;
  devices: Prisma.InputJsonValue;
  createdBy: string;
}

export interface CalibrationRunUpdate {
  state?: CalibrationState;
  phase?: string;
  devices?: Prisma.InputJsonValue;
  samples?: number;
  resultVariantId?: string | null;
  result?: Prisma.InputJsonValue;
  error?: string | null;
}

export interface CalibrationRepo {
  create(input: NewCalibrationRun): Promise<CalibrationRun>;
  find(id: string): Promise<CalibrationRun | null>;
  update(id: string, patch: CalibrationRunUpdate): Promise<CalibrationRun>;
  list(limit?: number): Promise<CalibrationRun[]>;
}

export class PrismaCalibrationRepo implements CalibrationRepo {
  constructor(private readonly db: PrismaClient) {}

  create(input: NewCalibrationRun): Promise<CalibrationRun> {
    return this.db.calibrationRun.create({ data: input });
  }

  find(id: string): Promise<CalibrationRun | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.db.calibrationRun.findUnique({ where: { id } });
  }

  update(id: string, patch: CalibrationRunUpdate): Promise<CalibrationRun> {
    return this.db.calibrationRun.update({ where: { id }, data: patch });
  }

  list(limit = 50): Promise<CalibrationRun[]> {
    return this.db.calibrationRun.findMany({ orderBy: { createdAt: "desc" }, take: limit });
  }
}
