-- CreateTable
CREATE TABLE "Job" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'running',
    "variantId" UUID,
    "dataset" JSONB NOT NULL,
    "sampleDims" INTEGER[],
    "samples" INTEGER NOT NULL,
    "shardSize" INTEGER NOT NULL,
    "selector" JSONB NOT NULL,
    "deviceIds" UUID[],
    "ackWaitMs" INTEGER NOT NULL,
    "maxAttempts" INTEGER NOT NULL,
    "prefetch" BOOLEAN NOT NULL DEFAULT true,
    "duplicates" INTEGER NOT NULL DEFAULT 0,
    "createdBy" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Job_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "JobShard" (
    "jobId" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "start" INTEGER NOT NULL,
    "count" INTEGER NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'pending',
    "deviceId" UUID,
    "deviceClass" TEXT,
    "variantId" UUID,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "holders" UUID[] DEFAULT ARRAY[]::UUID[],
    "error" TEXT,
    "runMs" DOUBLE PRECISION,
    "classes" INTEGER,
    "argmax" INTEGER[] DEFAULT ARRAY[]::INTEGER[],
    "scores" BYTEA,
    "correct" INTEGER,
    "doneAt" TIMESTAMPTZ(3),

    CONSTRAINT "JobShard_pkey" PRIMARY KEY ("jobId","index")
);

-- CreateIndex
CREATE INDEX "Job_state_idx" ON "Job"("state");

-- CreateIndex
CREATE INDEX "JobShard_jobId_state_idx" ON "JobShard"("jobId", "state");

-- AddForeignKey
ALTER TABLE "JobShard" ADD CONSTRAINT "JobShard_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE;
