-- CreateEnum
CREATE TYPE "RolloutState" AS ENUM ('pending', 'running', 'paused', 'completed', 'halted', 'aborted', 'rolled_back');

-- AlterTable
ALTER TABLE "DeviceReportedState" ADD COLUMN     "canaryCorrect" INTEGER,
ADD COLUMN     "canaryDigest" TEXT,
ADD COLUMN     "canarySamples" INTEGER;

-- AlterTable
ALTER TABLE "TelemetryRollup" ADD COLUMN     "shadowAgreed" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "shadowCompared" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "Rollout" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "modelId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "selector" JSONB NOT NULL,
    "policy" JSONB NOT NULL,
    "strategy" JSONB NOT NULL,
    "canaryDigest" TEXT,
    "state" "RolloutState" NOT NULL DEFAULT 'pending',
    "currentWave" INTEGER NOT NULL DEFAULT 0,
    "waveStartedAt" TIMESTAMPTZ(3),
    "gates" JSONB NOT NULL DEFAULT '[]',
    "haltReason" TEXT,
    "createdBy" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Rollout_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RolloutTarget" (
    "rolloutId" UUID NOT NULL,
    "deviceId" UUID NOT NULL,
    "wave" INTEGER NOT NULL,
    "variantId" UUID,
    "reasons" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "state" TEXT NOT NULL DEFAULT 'pending',
    "generation" INTEGER,
    "previousVariantId" UUID,
    "joinedLate" BOOLEAN NOT NULL DEFAULT false,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "RolloutTarget_pkey" PRIMARY KEY ("rolloutId","deviceId")
);

-- CreateTable
CREATE TABLE "ControllerLease" (
    "name" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "epoch" INTEGER NOT NULL,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ControllerLease_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "RetargetMove" (
    "id" BIGSERIAL NOT NULL,
    "deviceId" UUID NOT NULL,
    "rolloutId" UUID,
    "fromVariantId" UUID,
    "toVariantId" UUID NOT NULL,
    "action" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "measuredMs" DOUBLE PRECISION NOT NULL,
    "sloMs" DOUBLE PRECISION NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RetargetMove_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Rollout_state_idx" ON "Rollout"("state");

-- CreateIndex
CREATE INDEX "Rollout_modelId_createdAt_idx" ON "Rollout"("modelId", "createdAt");

-- CreateIndex
CREATE INDEX "RolloutTarget_rolloutId_wave_state_idx" ON "RolloutTarget"("rolloutId", "wave", "state");

-- CreateIndex
CREATE INDEX "RolloutTarget_deviceId_idx" ON "RolloutTarget"("deviceId");

-- CreateIndex
CREATE INDEX "RetargetMove_deviceId_at_idx" ON "RetargetMove"("deviceId", "at");

-- AddForeignKey
ALTER TABLE "Rollout" ADD CONSTRAINT "Rollout_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RolloutTarget" ADD CONSTRAINT "RolloutTarget_rolloutId_fkey" FOREIGN KEY ("rolloutId") REFERENCES "Rollout"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RolloutTarget" ADD CONSTRAINT "RolloutTarget_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RetargetMove" ADD CONSTRAINT "RetargetMove_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;
