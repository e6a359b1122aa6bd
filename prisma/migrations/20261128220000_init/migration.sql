-- CreateEnum
CREATE TYPE "DeviceStatus" AS ENUM ('enrolled', 'online', 'offline');

-- CreateEnum
CREATE TYPE "ApiTokenRole" AS ENUM ('admin', 'operator', 'viewer');

-- CreateEnum
CREATE TYPE "LatencySource" AS ENUM ('profile', 'telemetry');

-- CreateTable
CREATE TABLE "Device" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "publicKey" TEXT NOT NULL,
    "status" "DeviceStatus" NOT NULL DEFAULT 'enrolled',
    "arch" TEXT NOT NULL,
    "cores" INTEGER NOT NULL,
    "ramBytes" BIGINT NOT NULL,
    "cpuModel" TEXT NOT NULL,
    "cpuFlags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "accelerators" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "agentVersion" TEXT NOT NULL,
    "facts" JSONB NOT NULL DEFAULT '{}',
    "labels" JSONB NOT NULL DEFAULT '{}',
    "simulated" BOOLEAN NOT NULL DEFAULT false,
    "deviceClass" TEXT,
    "lastSeenAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,
    "enrollmentTokenId" UUID,

    CONSTRAINT "Device_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DeviceProfile" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "deviceId" UUID NOT NULL,
    "measuredAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "agentVersion" TEXT NOT NULL,
    "threads" INTEGER NOT NULL,
    "simulated" BOOLEAN NOT NULL DEFAULT false,
    "deviceClass" TEXT,
    "fp32Gflops" DOUBLE PRECISION NOT NULL,
    "int8Gops" DOUBLE PRECISION NOT NULL,
    "int4Gops" DOUBLE PRECISION,
    "memBandwidthGBs" DOUBLE PRECISION NOT NULL,
    "loadTimeMs" DOUBLE PRECISION,
    "kernels" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "raw" JSONB NOT NULL,

    CONSTRAINT "DeviceProfile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "EnrollmentToken" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tokenHash" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,
    "maxUses" INTEGER NOT NULL,
    "uses" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdBy" TEXT,

    CONSTRAINT "EnrollmentToken_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiToken" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tokenHash" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "role" "ApiTokenRole" NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMPTZ(3),

    CONSTRAINT "ApiToken_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditEvent" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "subjectType" TEXT NOT NULL,
    "subjectId" TEXT NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "AuditEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Model" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "inputShape" JSONB NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Model_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Variant" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "modelId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "recipe" JSONB NOT NULL,
    "technique" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "shippedBytes" BIGINT NOT NULL,
    "params" BIGINT NOT NULL,
    "flops" JSONB NOT NULL,
    "accuracy" DOUBLE PRECISION,
    "fidelity" JSONB,
    "latencyB1Ms" DOUBLE PRECISION,
    "latencyB64Ms" DOUBLE PRECISION,
    "kernels" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "artifactDigest" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Variant_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Artifact" (
    "digest" TEXT NOT NULL,
    "sizeBytes" BIGINT NOT NULL,
    "signature" TEXT NOT NULL,
    "mediaType" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Artifact_pkey" PRIMARY KEY ("digest")
);

-- CreateTable
CREATE TABLE "Plan" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "modelId" UUID NOT NULL,
    "selector" JSONB NOT NULL,
    "policy" JSONB NOT NULL,
    "dryRun" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Plan_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PlanDecision" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "planId" UUID NOT NULL,
    "deviceId" UUID NOT NULL,
    "variantId" UUID,
    "ok" BOOLEAN NOT NULL,
    "reasons" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "predictedLatencyMs" DOUBLE PRECISION,
    "predictedMemoryBytes" BIGINT,

    CONSTRAINT "PlanDecision_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LatencyObservation" (
    "id" BIGSERIAL NOT NULL,
    "deviceId" UUID NOT NULL,
    "variantId" UUID NOT NULL,
    "batch" INTEGER NOT NULL,
    "latencyMs" DOUBLE PRECISION NOT NULL,
    "measuredAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "source" "LatencySource" NOT NULL,

    CONSTRAINT "LatencyObservation_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Device_publicKey_key" ON "Device"("publicKey");

-- CreateIndex
CREATE INDEX "Device_createdAt_id_idx" ON "Device"("createdAt", "id");

-- CreateIndex
CREATE INDEX "Device_status_lastSeenAt_idx" ON "Device"("status", "lastSeenAt");

-- CreateIndex
CREATE INDEX "Device_enrollmentTokenId_idx" ON "Device"("enrollmentTokenId");

-- CreateIndex
CREATE INDEX "DeviceProfile_deviceId_measuredAt_idx" ON "DeviceProfile"("deviceId", "measuredAt" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "EnrollmentToken_tokenHash_key" ON "EnrollmentToken"("tokenHash");

-- CreateIndex
CREATE UNIQUE INDEX "ApiToken_tokenHash_key" ON "ApiToken"("tokenHash");

-- CreateIndex
CREATE INDEX "AuditEvent_at_idx" ON "AuditEvent"("at");

-- CreateIndex
CREATE INDEX "AuditEvent_subjectType_subjectId_at_idx" ON "AuditEvent"("subjectType", "subjectId", "at");

-- CreateIndex
CREATE UNIQUE INDEX "Model_name_version_key" ON "Model"("name", "version");

-- CreateIndex
CREATE INDEX "Variant_artifactDigest_idx" ON "Variant"("artifactDigest");

-- CreateIndex
CREATE UNIQUE INDEX "Variant_modelId_name_key" ON "Variant"("modelId", "name");

-- CreateIndex
CREATE INDEX "Plan_modelId_createdAt_idx" ON "Plan"("modelId", "createdAt");

-- CreateIndex
CREATE INDEX "PlanDecision_deviceId_idx" ON "PlanDecision"("deviceId");

-- CreateIndex
CREATE INDEX "PlanDecision_variantId_idx" ON "PlanDecision"("variantId");

-- CreateIndex
CREATE UNIQUE INDEX "PlanDecision_planId_deviceId_key" ON "PlanDecision"("planId", "deviceId");

-- CreateIndex
CREATE INDEX "LatencyObservation_deviceId_variantId_measuredAt_idx" ON "LatencyObservation"("deviceId", "variantId", "measuredAt" DESC);

-- CreateIndex
CREATE INDEX "LatencyObservation_variantId_idx" ON "LatencyObservation"("variantId");

-- AddForeignKey
ALTER TABLE "Device" ADD CONSTRAINT "Device_enrollmentTokenId_fkey" FOREIGN KEY ("enrollmentTokenId") REFERENCES "EnrollmentToken"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DeviceProfile" ADD CONSTRAINT "DeviceProfile_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Variant" ADD CONSTRAINT "Variant_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Variant" ADD CONSTRAINT "Variant_artifactDigest_fkey" FOREIGN KEY ("artifactDigest") REFERENCES "Artifact"("digest") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Plan" ADD CONSTRAINT "Plan_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PlanDecision" ADD CONSTRAINT "PlanDecision_planId_fkey" FOREIGN KEY ("planId") REFERENCES "Plan"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PlanDecision" ADD CONSTRAINT "PlanDecision_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PlanDecision" ADD CONSTRAINT "PlanDecision_variantId_fkey" FOREIGN KEY ("variantId") REFERENCES "Variant"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LatencyObservation" ADD CONSTRAINT "LatencyObservation_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LatencyObservation" ADD CONSTRAINT "LatencyObservation_variantId_fkey" FOREIGN KEY ("variantId") REFERENCES "Variant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
