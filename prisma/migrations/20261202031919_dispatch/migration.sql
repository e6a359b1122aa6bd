-- AlterTable
ALTER TABLE "Artifact" DROP COLUMN "signature";

-- AlterTable
ALTER TABLE "Variant" ADD COLUMN     "manifest" JSONB,
ADD COLUMN     "manifestSignature" TEXT,
ADD COLUMN     "runtime" JSONB NOT NULL DEFAULT '{}';

-- CreateTable
CREATE TABLE "DeviceAssignment" (
    "deviceId" UUID NOT NULL,
    "generation" INTEGER NOT NULL,
    "variantId" UUID,
    "desired" JSONB NOT NULL,
    "assignedBy" TEXT NOT NULL,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "DeviceAssignment_pkey" PRIMARY KEY ("deviceId")
);

-- CreateTable
CREATE TABLE "DeviceReportedState" (
    "deviceId" UUID NOT NULL,
    "generation" INTEGER NOT NULL,
    "phase" TEXT NOT NULL,
    "step" TEXT,
    "servingGeneration" INTEGER,
    "servingVariantId" UUID,
    "servingDigest" TEXT,
    "error" TEXT,
    "sentAt" TIMESTAMPTZ(3) NOT NULL,
    "receivedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "DeviceReportedState_pkey" PRIMARY KEY ("deviceId")
);

-- CreateTable
CREATE TABLE "TelemetryRollup" (
    "deviceId" UUID NOT NULL,
    "variantId" UUID NOT NULL,
    "minute" TIMESTAMPTZ(3) NOT NULL,
    "messages" INTEGER NOT NULL,
    "requests" INTEGER NOT NULL,
    "errors" INTEGER NOT NULL,
    "rejected" INTEGER NOT NULL,
    "runs" INTEGER NOT NULL,
    "samples" INTEGER NOT NULL,
    "latencySketch" BYTEA,
    "latencyCount" INTEGER NOT NULL DEFAULT 0,
    "latencySumMs" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "latencyMinMs" DOUBLE PRECISION,
    "latencyMaxMs" DOUBLE PRECISION,
    "runSketch" BYTEA,
    "runCount" INTEGER NOT NULL DEFAULT 0,
    "runSumMs" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "queueDepthMax" INTEGER NOT NULL DEFAULT 0,
    "cpuPercentMax" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "rssBytesMax" BIGINT NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "TelemetryRollup_pkey" PRIMARY KEY ("deviceId","variantId","minute")
);

-- CreateTable
CREATE TABLE "TelemetryCursor" (
    "deviceId" UUID NOT NULL,
    "epoch" INTEGER NOT NULL,
    "seq" INTEGER NOT NULL,

    CONSTRAINT "TelemetryCursor_pkey" PRIMARY KEY ("deviceId")
);

-- CreateIndex
CREATE INDEX "DeviceAssignment_variantId_idx" ON "DeviceAssignment"("variantId");

-- CreateIndex
CREATE INDEX "TelemetryRollup_variantId_minute_idx" ON "TelemetryRollup"("variantId", "minute");

-- CreateIndex
CREATE INDEX "TelemetryRollup_minute_idx" ON "TelemetryRollup"("minute");

-- AddForeignKey
ALTER TABLE "DeviceAssignment" ADD CONSTRAINT "DeviceAssignment_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DeviceAssignment" ADD CONSTRAINT "DeviceAssignment_variantId_fkey" FOREIGN KEY ("variantId") REFERENCES "Variant"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DeviceReportedState" ADD CONSTRAINT "DeviceReportedState_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TelemetryRollup" ADD CONSTRAINT "TelemetryRollup_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TelemetryCursor" ADD CONSTRAINT "TelemetryCursor_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;
