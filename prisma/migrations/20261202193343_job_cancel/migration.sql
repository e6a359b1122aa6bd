-- AlterTable
ALTER TABLE "Job" ADD COLUMN     "cancelReason" TEXT,
ADD COLUMN     "cancelledBy" TEXT,
ADD COLUMN     "lateResults" INTEGER NOT NULL DEFAULT 0;
