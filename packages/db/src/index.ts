export * from "./api-token-repo";
export * from "./audit-repo";
export * from "./calibration-repo";
export * from "./catalog-import";
export * from "./catalog-repo";
export {
  type CreatePrismaOptions,
  createPrisma,
  type Db,
  isInvalidData,
  isNotFound,
  isUniqueViolation,
  isUuid,
} from "./client";
export * from "./device-repo";
export * from "./device-revocation-repo";
export * from "./dispatch-repo";
export * from "./embedded";
export * from "./enrollment";
export * from "./enrollment-token-repo";
export {
  type ApiToken,
  ApiTokenRole,
  type Artifact,
  type AuditEvent,
  type CalibrationRun,
  CalibrationState,
  type Device,
  type DeviceAssignment,
  type DeviceProfile,
  type DeviceReportedState,
  DeviceStatus,
  type EnrollmentToken,
  type LatencyObservation,
  LatencySource,
  type Model,
  type Plan,
  type PlanDecision,
  Prisma,
  PrismaClient,
  type RetargetMove,
  type Rollout,
  RolloutState,
  type RolloutTarget,
  type TelemetryRollup,
  type Variant,
} from "./generated/prisma/client";
export * from "./job-repo";
export * from "./latency-repo";
export * from "./migrator";
export * from "./pipeline-repo";
export * from "./plan-repo";
export * from "./profile-repo";
export * from "./repos";
export * from "./rollout-repo";
export { generateSecret, hashSecret } from "./secrets";
export * from "./telemetry-repo";
