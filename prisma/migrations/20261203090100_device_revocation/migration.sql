-- AlterEnum
ALTER TYPE "DeviceStatus" ADD VALUE 'decommissioned';

-- AlterTable
ALTER TABLE "Device" ADD COLUMN     "decommissionedAt" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "RevokedDeviceKey" (
    "publicKey" TEXT NOT NULL,
    "deviceId" UUID NOT NULL,
    "revokedAt" TIMESTAMPTZ(3) NOT NULL,
    "revokedBy" TEXT NOT NULL,

    CONSTRAINT "RevokedDeviceKey_pkey" PRIMARY KEY ("publicKey")
);

-- CreateIndex
CREATE INDEX "RevokedDeviceKey_deviceId_idx" ON "RevokedDeviceKey"("deviceId");
