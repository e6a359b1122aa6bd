// A run whose control plane stopped mid-run must not read "running" forever.
import { createMlp, exportOnnx } from "@edgefleet/compression";
import { createPrisma } from "@edgefleet/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControlPlane, type TestControlPlane } from "../testing";

let t: TestControlPlane;
let modelId: string;
let variantId: string;

beforeAll(async () => {
  t = await startTestControlPlane();
  const m = await t.importModel({
    name: "stale",
    variants: [{ name: "fp32", bytes: exportOnnx(createMlp([784, 8, 10], 1)) }],
  });
  modelId = m.modelId;
  variantId = m.variantIds.get("fp32") as string;
});

afterAll(async () => {
  await t?.stop();
});

describe("interrupted calibration runs", () => {
  it("reports a run nobody drives as failed once it made no progress for too long", async () => {
    const prisma = createPrisma(t.db.url);
    try {
      const row = (minutesAgo: number) =>
        prisma.$queryRaw<{ id: string }[]>`
          INSERT INTO "CalibrationRun" ("modelId", "sourceVariantId", method, bins, "minDevices", devices, "createdBy", "updatedAt")
          VALUES (${modelId}::uuid, ${variantId}::uuid, 'minmax', 2048, 1, '[]'::jsonb, 'test',
                  now() - make_interval(mins => ${minutesAgo}))
          RETURNING id`;
      const [stale] = await row(60);
      const [fresh] = await row(1);
      const a = await t.api(`/api/v1/calibrations/${stale.id}`);
      expect(a.body).toMatchObject({ state: "failed", phase: "done" });
      expect(a.body.error).toMatch(/^interrupted: no progress for 60 min/);
      const b = await t.api(`/api/v1/calibrations/${fresh.id}`);
      expect(b.body).toMatchObject({ state: "running", error: null });
      const list = (await t.api("/api/v1/calibrations")).body.items as Array<{
        id: string;
        state: string;
      }>;
      expect(list.find((r) => r.id === stale.id)?.state).toBe("failed");
      expect(list.find((r) => r.id === fresh.id)?.state).toBe("running");
    } finally {
      await prisma.$disconnect();
    }
  });
});
