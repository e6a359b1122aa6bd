// Decommissioned devices (issue 11): their keys, revoked for good, and the one transaction that
// retires a device (status, assignment, running rollouts, audit) so nothing is half done.

import { isUuid } from "./client";
import type { Device, PrismaClient } from "./generated/prisma/client";

export interface RevokedKey {
  publicKey: string;
  deviceId: string;
  revokedAt: Date;
}

export interface DecommissionResult {
  device: Device;
  /** false when the device was decommissioned before (the call changed nothing). */
  changed: boolean;
  /** Rollout targets of running rollouts that were set to `skipped`. */
  skippedTargets: number;
}

export interface DeviceRevocationRepo {
  /** null when no such device. */
  decommission(deviceId: string, actor: string, at?: Date): Promise<DecommissionResult | null>;
  isRevoked(publicKey: string): Promise<boolean>;
  /** Every revoked key, oldest first (what the fleet account JWT must carry). */
  all(): Promise<RevokedKey[]>;
}

// Targets not yet done: a decommissioned device must not hold a wave back.
const OPEN_TARGET_STATES = ["pending", "assigned"];

export class PrismaDeviceRevocationRepo implements DeviceRevocationRepo {
  constructor(private readonly db: PrismaClient) {}

  async decommission(deviceId: string, actor: string, at = new Date()) {
    if (!isUuid(deviceId)) return null;
    return this.db.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<{ id: string }[]>`
        SELECT "id"::text AS "id" FROM "Device" WHERE "id" = ${deviceId}::uuid FOR UPDATE`;
      if (rows.length === 0) return null;
      const before = await tx.device.findUniqueOrThrow({ where: { id: deviceId } });
      if (before.status === "decommissioned") {
        return { device: before, changed: false, skippedTargets: 0 };
      }
      await tx.revokedDeviceKey.createMany({
        data: [{ publicKey: before.publicKey, deviceId, revokedAt: at, revokedBy: actor }],
        skipDuplicates: true,
      });
      await tx.deviceAssignment.deleteMany({ where: { deviceId } });
      const skipped = await tx.rolloutTarget.updateMany({
        where: {
          deviceId,
          state: { in: OPEN_TARGET_STATES },
          rollout: { state: { in: ["pending", "running", "paused"] } },
        },
        data: { state: "skipped", reasons: { push: "device decommissioned" } },
      });
      const device = await tx.device.update({
        where: { id: deviceId },
        data: { status: "decommissioned", decommissionedAt: at },
      });
      await tx.auditEvent.create({
        data: {
          actor,
          action: "device.decommissioned",
          subjectType: "device",
          subjectId: deviceId,
          at,
          data: { publicKey: before.publicKey, skippedTargets: skipped.count },
        },
      });
      return { device, changed: true, skippedTargets: skipped.count };
    });
  }

  async isRevoked(publicKey: string): Promise<boolean> {
    return (await this.db.revokedDeviceKey.count({ where: { publicKey } })) > 0;
  }

  all(): Promise<RevokedKey[]> {
    return this.db.revokedDeviceKey.findMany({
      select: { publicKey: true, deviceId: true, revokedAt: true },
      orderBy: { revokedAt: "asc" },
    });
  }
}
