import type { Db } from "./client";
import type { DeviceProfile, Prisma } from "./generated/prisma/client";

export interface NewDeviceProfile {
  measuredAt?: Date;
  agentVersion: string;
  threads: number;
  simulated?: boolean;
  deviceClass?: string | null;
  fp32Gflops: number;
  int8Gops: number;
  int4Gops?: number | null;
  memBandwidthGBs: number;
  loadTimeMs?: number | null;
  /** Quantized kernels the device runs natively. */
  kernels: string[];
  /** The full profile as reported, best and median figures included. */
  raw: Prisma.InputJsonObject;
}

export interface ProfileRepo {
  add(deviceId: string, profile: NewDeviceProfile): Promise<DeviceProfile>;
  latest(deviceId: string): Promise<DeviceProfile | null>;
  /** The latest profile of each listed device that has one (for planning a whole fleet). */
  latestMany(deviceIds: string[]): Promise<Map<string, DeviceProfile>>;
}

export class PrismaProfileRepo implements ProfileRepo {
  constructor(private readonly db: Db) {}

  add(deviceId: string, profile: NewDeviceProfile): Promise<DeviceProfile> {
    return this.db.deviceProfile.create({ data: { ...profile, deviceId } });
  }

  latest(deviceId: string): Promise<DeviceProfile | null> {
    return this.db.deviceProfile.findFirst({
      where: { deviceId },
      orderBy: { measuredAt: "desc" },
    });
  }

  async latestMany(deviceIds: string[]): Promise<Map<string, DeviceProfile>> {
    const rows = await this.db.deviceProfile.findMany({
      where: { deviceId: { in: deviceIds } },
      orderBy: [{ deviceId: "asc" }, { measuredAt: "desc" }],
      distinct: ["deviceId"],
    });
    return new Map(rows.map((r) => [r.deviceId, r]));
  }
}
