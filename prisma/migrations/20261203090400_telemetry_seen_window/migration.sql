-- AlterTable
ALTER TABLE "TelemetryCursor" ADD COLUMN     "seen" BYTEA;
