import { type ApiTokenRepo, PrismaApiTokenRepo } from "./api-token-repo";
import { type AuditRepo, PrismaAuditRepo } from "./audit-repo";
import { type CalibrationRepo, PrismaCalibrationRepo } from "./calibration-repo";
import { importCatalogue } from "./catalog-import";
import { type CatalogRepo, PrismaCatalogRepo } from "./catalog-repo";
import { type DeviceRepo, PrismaDeviceRepo } from "./device-repo";
import { type DeviceRevocationRepo, PrismaDeviceRevocationRepo } from "./device-revocation-repo";
import { type DispatchRepo, PrismaDispatchRepo } from "./dispatch-repo";
import { type EnrollDeviceInput, type EnrollDeviceResult, enrollDevice } from "./enrollment";
import { type EnrollmentTokenRepo, PrismaEnrollmentTokenRepo } from "./enrollment-token-repo";
import type { PrismaClient } from "./generated/prisma/client";
import { type JobRepo, PrismaJobRepo } from "./job-repo";
import { type LatencyRepo, PrismaLatencyRepo } from "./latency-repo";
import { type PipelineRepo, PrismaPipelineRepo } from "./pipeline-repo";
import { type PlanRepo, PrismaPlanRepo } from "./plan-repo";
import { PrismaProfileRepo, type ProfileRepo } from "./profile-repo";
import { PrismaRolloutRepo, type RolloutRepo } from "./rollout-repo";
import { PrismaTelemetryRepo, type TelemetryRepo } from "./telemetry-repo";

/** Everything services need from the database, as interfaces. */
export interface Repos {
  devices: DeviceRepo;
  /** Decommissioned devices and their revoked keys (issue 11). */
  revokedKeys: DeviceRevocationRepo;
  enrollmentTokens: EnrollmentTokenRepo;
  apiTokens: ApiTokenRepo;
  audit: AuditRepo;
  profiles: ProfileRepo;
  catalog: CatalogRepo;
  plans: PlanRepo;
  latency: LatencyRepo;
  dispatch: DispatchRepo;
  rollouts: RolloutRepo;
  telemetry: TelemetryRepo;
  jobs: JobRepo;
  calibrations: CalibrationRepo;
  pipelines: PipelineRepo;
  enrollDevice(input: EnrollDeviceInput): Promise<EnrollDeviceResult>;
  importCatalogue(input: Parameters<typeof importCatalogue>[1]): ReturnType<typeof importCatalogue>;
}

export function createRepos(prisma: PrismaClient): Repos {
  return {
    devices: new PrismaDeviceRepo(prisma),
    revokedKeys: new PrismaDeviceRevocationRepo(prisma),
    enrollmentTokens: new PrismaEnrollmentTokenRepo(prisma),
    apiTokens: new PrismaApiTokenRepo(prisma),
    audit: new PrismaAuditRepo(prisma),
    profiles: new PrismaProfileRepo(prisma),
    catalog: new PrismaCatalogRepo(prisma),
    plans: new PrismaPlanRepo(prisma),
    latency: new PrismaLatencyRepo(prisma),
    dispatch: new PrismaDispatchRepo(prisma),
    rollouts: new PrismaRolloutRepo(prisma),
    telemetry: new PrismaTelemetryRepo(prisma),
    jobs: new PrismaJobRepo(prisma),
    calibrations: new PrismaCalibrationRepo(prisma),
    pipelines: new PrismaPipelineRepo(prisma),
    enrollDevice: (input) => enrollDevice(prisma, input),
    importCatalogue: (input) => importCatalogue(prisma, input),
  };
}
