-- CreateTable
CREATE TABLE "DeviceLink" (
    "deviceId" UUID NOT NULL,
    "rttMs" DOUBLE PRECISION NOT NULL,
    "bytesPerSecond" DOUBLE PRECISION NOT NULL,
    "smallBytes" INTEGER NOT NULL,
    "largeBytes" INTEGER NOT NULL,
    "measuredAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "DeviceLink_pkey" PRIMARY KEY ("deviceId")
);

-- CreateTable
CREATE TABLE "Pipeline" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "modelId" UUID NOT NULL,
    "variantId" UUID NOT NULL,
    "objective" TEXT NOT NULL,
    "precisions" TEXT[],
    "deviceIds" TEXT[],
    "status" TEXT NOT NULL,
    "planVersion" INTEGER NOT NULL DEFAULT 1,
    "placement" JSONB NOT NULL,
    "reasons" JSONB NOT NULL,
    "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Pipeline_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PipelineStage" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "pipelineId" UUID NOT NULL,
    "planVersion" INTEGER NOT NULL,
    "index" INTEGER NOT NULL,
    "deviceId" UUID NOT NULL,
    "precision" TEXT NOT NULL,
    "firstSegment" INTEGER NOT NULL,
    "lastSegment" INTEGER NOT NULL,
    "artifactDigest" TEXT NOT NULL,
    "sizeBytes" INTEGER NOT NULL,
    "manifest" JSONB NOT NULL,
    "signature" TEXT NOT NULL,
    "computeMs" DOUBLE PRECISION NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PipelineStage_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "PipelineStage_pipelineId_planVersion_index_key" ON "PipelineStage"("pipelineId", "planVersion", "index");

-- AddForeignKey
ALTER TABLE "PipelineStage" ADD CONSTRAINT "PipelineStage_pipelineId_fkey" FOREIGN KEY ("pipelineId") REFERENCES "Pipeline"("id") ON DELETE CASCADE ON UPDATE CASCADE;
