-- AlterTable
ALTER TABLE "Variant" ADD COLUMN     "cost" JSONB NOT NULL DEFAULT '{}';
