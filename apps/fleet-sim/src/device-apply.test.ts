import { randomUUID } from "node:crypto";
import { generateSigningKey, keyId, signManifest } from "@edgefleet/artifact";
import type { ArtifactManifest, DesiredState, StateReport } from "@edgefleet/protocol";
import { describe, expect, it } from "vitest";
import { DeviceApply, type DeviceApplyDeps } from "./device-apply";
import { SimulationModel } from "./model";
import { Random } from "./random";

const key = generateSigningKey();
const modelId = randomUUID();

function manifest(name: string, over: Partial<ArtifactManifest["runtime"]> = {}): ArtifactManifest {
  return {
    schema: 1,
    digest: (name.length.toString(16) + "ab".repeat(32)).slice(0, 64),
    sizeBytes: 1000,
    mediaType: "application/onnx",
    model: { id: modelId, name: "m", version: "1" },
    variant: { id: randomUUID(), name, technique: "base", recipe: [] },
    input: { name: "input", sampleDims: [784] },
    runtime: {
      kernels: [],
      kernelType: "fp32",
      opset: 13,
      memoryBytes: 2 ** 20,
      disableQuantQdq: false,
      ...over,
    },
    quality: { metric: "accuracy", value: 0.97 },
    issuedAt: "2026-12-01T00:00:00Z",
    keyId: keyId(key.publicKeyPem),
  };
}

function desired(
  generation: number,
  m: ArtifactManifest | null,
  extra: Partial<NonNullable<DesiredState["assignment"]>> = {},
): DesiredState {
  return {
    version: 1,
    deviceId: "dev-1",
    generation,
    updatedAt: "2026-12-01T00:00:00Z",
    assignment: m
      ? {
          manifest: m,
          signature: signManifest(m, key.privateKeyPem),
          options: { threads: 0, maxBatch: 16, maxDelayMs: 0, queueLimit: 256 },
          shadow: null,
          canary: null,
          ...extra,
        }
      : null,
    rolloutId: null,
  };
}

function device(over: Partial<DeviceApplyDeps> = {}) {
  const reports: StateReport[] = [];
  const apply = new DeviceApply({
    deviceId: "dev-1",
    deviceClass: "rpi4",
    limits: { unsupportedKernels: new Set(["fp16"]), memoryBudgetBytes: 2 ** 30 },
    model: new SimulationModel({
      applyMs: 1,
      variants: [
        { match: "good", baseLatencyMs: 1, canaryAccuracy: 0.9, agreement: 0.9 },
        { match: "broken", baseLatencyMs: 1, canaryAccuracy: 1, agreement: 1, applyFailureRate: 1 },
      ],
    }),
    random: new Random(3),
    pinnedKey: key.publicKeyPem,
    report: (r) => void reports.push(r),
    ...over,
  });
  return { apply, reports, phases: () => reports.map((r) => `${r.generation}:${r.phase}`) };
}

describe("DeviceApply", () => {
  it("applies a new generation and reports applying, then applied with what serves", async () => {
    const { apply, reports, phases } = device();
    const m = manifest("good");
    expect(apply.offer(desired(1, m))).toBe(true);
    await apply.settled();
    expect(phases()).toEqual(["1:applying", "1:applied"]);
    expect(reports[1].serving).toEqual({
      generation: 1,
      variantId: m.variant.id,
      digest: m.digest,
    });
    expect(apply.serving?.generation).toBe(1);
  });

  it("ignores older and equal generations, counting only the older ones as stale", async () => {
    const { apply, phases } = device();
    apply.offer(desired(5, manifest("good")));
    await apply.settled();
    expect(apply.offer(desired(5, manifest("good")))).toBe(false);
    expect(apply.offer(desired(4, null))).toBe(false);
    await apply.settled();
    expect(apply.staleIgnored).toBe(1);
    expect(phases()).toEqual(["5:applying", "5:applied"]);
  });

  it("refuses what the class cannot run, keeps serving, and does not retry", async () => {
    const { apply, reports, phases } = device();
    apply.offer(desired(1, manifest("good")));
    await apply.settled();
    apply.offer(desired(2, manifest("good-fp16", { kernelType: "fp16" })));
    await apply.settled();
    expect(phases()).toEqual(["1:applying", "1:applied", "2:failed"]);
    expect(reports[2].error).toMatch(/needs fp16 kernels.*gave up on generation 2/);
    expect(reports[2].serving?.generation).toBe(1);
  });

  it("refuses a manifest not signed by the pinned key, and everything without a pinned key", async () => {
    const { apply, reports } = device();
    const d = desired(1, manifest("good"));
    d.assignment!.signature = signManifest(
      { ...d.assignment!.manifest, sizeBytes: 2 },
      key.privateKeyPem,
    );
    apply.offer(d);
    await apply.settled();
    expect(reports.at(-1)).toMatchObject({ phase: "failed", serving: null });
    expect(reports.at(-1)?.error).toMatch(/manifest refused/);

    const unpinned = device({ pinnedKey: "" });
    unpinned.apply.offer(desired(1, manifest("good")));
    await unpinned.apply.settled();
    expect(unpinned.reports.at(-1)?.error).toMatch(/no artifact signing key/);
  });

  it("fails a variant the model says fails to load", async () => {
    const { apply, phases } = device();
    apply.offer(desired(1, manifest("broken")));
    await apply.settled();
    expect(phases()).toEqual(["1:applying", "1:failed"]);
    expect(apply.serving).toBeNull();
  });

  it("reports a canary result drawn from the variant's accuracy", async () => {
    const { apply, reports } = device();
    const canary = { digest: "c".repeat(64), sizeBytes: 10, samples: 1000 };
    apply.offer(desired(1, manifest("good"), { canary }));
    await apply.settled();
    const applied = reports.at(-1)!;
    expect(applied.canary).toMatchObject({ digest: canary.digest, samples: 1000 });
    expect(applied.canary!.correct).toBeGreaterThan(860);
    expect(applied.canary!.correct).toBeLessThan(940);
  });

  it("downloads and checks the artifact's sha256 when told to", async () => {
    const bytes = new TextEncoder().encode("the artifact");
    const { createHash } = await import("node:crypto");
    const digest = createHash("sha256").update(bytes).digest("hex");
    const fetched: string[] = [];
    const { apply, phases, reports } = device({
      download: async (d, onChunk) => {
        fetched.push(d);
        onChunk(d === digest ? bytes : new Uint8Array([1, 2, 3]));
      },
    });
    apply.offer(desired(1, { ...manifest("good"), digest }));
    await apply.settled();
    expect(fetched).toEqual([digest]);
    expect(phases()).toEqual(["1:applying", "1:applied"]);

    apply.offer(desired(2, { ...manifest("good"), digest: "d".repeat(64) }));
    await apply.settled();
    expect(reports.at(-1)?.error).toMatch(/hash to .*retrying/);
    apply.stop();
  });

  it("unloads on a null assignment and reports applied", async () => {
    const { apply, phases } = device();
    apply.offer(desired(1, manifest("good")));
    await apply.settled();
    apply.offer(desired(2, null));
    await apply.settled();
    expect(phases()).toEqual(["1:applying", "1:applied", "2:applied"]);
    expect(apply.serving).toBeNull();
    expect(apply.previous?.generation).toBe(1);
  });
});
