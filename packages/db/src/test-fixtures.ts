// Test-only helpers for this package's own tests (not exported from the package).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { createPrisma } from "./client";
import type { NewDevice } from "./device-repo";
import type { PrismaClient } from "./generated/prisma/client";
import { createTestDatabase, type TestDatabase } from "./testing";

/** One migrated database and Prisma client per test file. */
export function usePrisma(): { readonly prisma: PrismaClient; readonly db: TestDatabase } {
  const state = {} as { prisma: PrismaClient; db: TestDatabase };
  beforeAll(async () => {
    state.db = await createTestDatabase();
    state.prisma = createPrisma(state.db.url);
  });
  afterAll(async () => {
    await state.prisma?.$disconnect();
    await state.db?.drop();
  });
  return state;
}

export function newDevice(overrides: Partial<NewDevice> = {}): NewDevice {
  const id = randomBytes(6).toString("hex");
  return {
    name: `dev-${id}`,
    publicKey: `U${randomBytes(20).toString("hex").toUpperCase()}`,
    arch: "x64",
    cores: 8,
    ramBytes: 16n * 2n ** 30n,
    cpuModel: "AMD EPYC",
    cpuFlags: ["avx2", "avx512_vnni"],
    accelerators: [],
    agentVersion: "0.1.0",
    facts: { os: "linux" },
    ...overrides,
  };
}
