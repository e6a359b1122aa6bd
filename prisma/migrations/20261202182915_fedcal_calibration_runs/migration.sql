-- CreateEnum
CREATE TYPE "CalibrationState" AS ENUM ('running', 'succeeded', 'failed');

-- CreateTable
CREATE TABLE "CalibrationRun" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "modelId" UUID NOT NULL,
    "sourceVariantId" UUID NOT NULL,
    "method" TEXT NOT NULL,
    "percentile" DOUBLE PRECISION,
    "bins" INTEGER NOT NULL,
    "minDevices" INTEGER NOT NULL,
    "state" "CalibrationState" NOT NULL DEFAULT 'running',
    "phase" TEXT NOT NULL DEFAULT 'round1',
    "devices" JSONB NOT NULL,
    "samples" INTEGER NOT NULL DEFAULT 0,
    "resultVariantId" UUID,
    "result" JSONB,
    "error" TEXT,
    "createdBy" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "CalibrationRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CalibrationRun_modelId_createdAt_idx" ON "CalibrationRun"("modelId", "createdAt");

-- AddForeignKey
ALTER TABLE "CalibrationRun" ADD CONSTRAINT "CalibrationRun_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model"("id") ON DELETE CASCADE ON UPDATE CASCADE;
