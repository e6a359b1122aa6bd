// Writes and reads every model through Prisma: a column the hand-written migration got wrong
// (missing, misnamed, wrong type or default) fails here.
import { describe, expect, it } from "vitest";
import { PrismaAuditRepo } from "./audit-repo";
import { PrismaCatalogRepo } from "./catalog-repo";
import { PrismaDeviceRepo } from "./device-repo";
import { PrismaLatencyRepo } from "./latency-repo";
import { PrismaPlanRepo } from "./plan-repo";
import { PrismaProfileRepo } from "./profile-repo";
import { newDevice, usePrisma } from "./test-fixtures";

const ctx = usePrisma();

describe("catalog, plans, profiles, latency, audit", () => {
  it("round-trips every model", async () => {
    const catalog = new PrismaCatalogRepo(ctx.prisma);
    const device = await new PrismaDeviceRepo(ctx.prisma).create(newDevice());
    const model = await catalog.createModel({
      name: "mnist-mlp",
      version: "1",
      inputShape: [1, 784],
    });
    expect(await catalog.findModelByName("mnist-mlp", "1")).toEqual(model);

    const digest = "ab".repeat(32);
    const artifact = await catalog.putArtifact({
      digest,
      sizeBytes: 5_000_000_000,
      mediaType: "application/onnx",
    });
    expect(await catalog.putArtifact({ digest, sizeBytes: 1, mediaType: "x" })).toEqual(artifact);
    expect(artifact.sizeBytes).toBe(5_000_000_000n);

    const variant = await catalog.createVariant({
      modelId: model.id,
      name: "int8-dynamic",
      recipe: { quantize: "int8", mode: "dynamic" },
      technique: "quantize",
      bytes: 420_000,
      shippedBytes: 400_000,
      params: 1_863_690n,
      flops: { b1: 3_700_000 },
      accuracy: 0.97,
      fidelity: { top1Agreement: 0.99 },
      latencyB1Ms: 0.1,
      latencyB64Ms: 1.3,
      kernels: ["MatMulInteger"],
      artifactDigest: digest,
    });
    expect(await catalog.listVariants(model.id)).toEqual([variant]);
    expect(variant).toMatchObject({ params: 1_863_690n, kernels: ["MatMulInteger"] });

    const profiles = new PrismaProfileRepo(ctx.prisma);
    await profiles.add(device.id, {
      measuredAt: new Date("2026-01-01T00:00:00Z"),
      agentVersion: "0.1.0",
      threads: 2,
      fp32Gflops: 100,
      int8Gops: 400,
      memBandwidthGBs: 20,
      kernels: ["QGemm"],
      raw: { fp32: { best: 120, median: 100 } },
    });
    const newer = await profiles.add(device.id, {
      agentVersion: "0.1.1",
      threads: 2,
      fp32Gflops: 110,
      int8Gops: 450,
      int4Gops: 300,
      memBandwidthGBs: 21,
      loadTimeMs: 12,
      kernels: ["QGemm", "MatMulNBits"],
      raw: {},
    });
    expect(await profiles.latest(device.id)).toEqual(newer);
    expect((await profiles.latestMany([device.id])).get(device.id)).toEqual(newer);

    const plan = await new PrismaPlanRepo(ctx.prisma).create({
      modelId: model.id,
      selector: { labels: { site: "lab" } },
      policy: { sloMs: 30 },
      decisions: [
        {
          deviceId: device.id,
          variantId: variant.id,
          ok: true,
          reasons: ["int8: predicted 1.3 ms <= SLO 30 ms"],
          predictedLatencyMs: 1.3,
          predictedMemoryBytes: 3_000_000_000,
        },
      ],
    });
    expect(plan.dryRun).toBe(false);
    expect(plan.decisions[0]).toMatchObject({ predictedMemoryBytes: 3_000_000_000n, ok: true });
    expect(await new PrismaPlanRepo(ctx.prisma).findById(plan.id)).toEqual(plan);

    const latency = new PrismaLatencyRepo(ctx.prisma);
    expect(
      await latency.add([
        {
          deviceId: device.id,
          variantId: variant.id,
          batch: 1,
          latencyMs: 0.2,
          source: "telemetry",
        },
        {
          deviceId: device.id,
          variantId: variant.id,
          batch: 64,
          latencyMs: 1.5,
          source: "profile",
        },
      ]),
    ).toBe(2);
    expect(await latency.recent(device.id, variant.id)).toHaveLength(2);

    const audit = new PrismaAuditRepo(ctx.prisma);
    const ev = await audit.append({
      actor: "system",
      action: "device.enrolled",
      subjectType: "device",
      subjectId: device.id,
      data: { via: "test" },
    });
    expect(typeof ev.id).toBe("bigint");
    expect(await audit.list({ subjectType: "device", subjectId: device.id })).toEqual([ev]);
  });
});
