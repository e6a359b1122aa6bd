import type { ArtifactManifest, DesiredState, RuntimeOptions } from "@edgefleet/protocol";
import { describe, expect, it } from "vitest";
import {
  acceptDesired,
  type DeviceLimits,
  type Installed,
  planSteps,
  type ReconcileState,
  refusalReason,
} from "./plan";

const options: RuntimeOptions = { threads: 0, maxBatch: 16, maxDelayMs: 2, queueLimit: 256 };
const manifest = (digest: string, over: Partial<ArtifactManifest["runtime"]> = {}) =>
  ({
    schema: 1,
    digest: digest.repeat(64).slice(0, 64),
    sizeBytes: 1000,
    mediaType: "application/onnx",
    model: { id: "m", name: "mnist", version: "1" },
    variant: { id: `v-${digest}`, name: `variant-${digest}`, technique: "base", recipe: [] },
    input: { name: "input", sampleDims: [784] },
    runtime: {
      kernels: [],
      kernelType: "fp32",
      opset: 13,
      memoryBytes: 40 * 2 ** 20,
      disableQuantQdq: false,
      ...over,
    },
    quality: { metric: "accuracy", value: 0.97 },
    issuedAt: "2026-12-01T00:00:00Z",
    keyId: "k",
  }) as ArtifactManifest;

const desired = (
  generation: number,
  digest: string | null,
  opts: Partial<RuntimeOptions> = {},
  over: Partial<ArtifactManifest["runtime"]> = {},
): DesiredState => ({
  version: 1,
  deviceId: "dev",
  generation,
  updatedAt: "2026-12-01T00:00:00Z",
  assignment: digest
    ? {
        manifest: manifest(digest, over),
        signature: "sig",
        options: { ...options, ...opts },
        shadow: null,
        canary: null,
      }
    : null,
  rolloutId: null,
});

const installed = (generation: number, digest: string, opts: Partial<RuntimeOptions> = {}) =>
  ({
    generation,
    manifest: manifest(digest),
    signature: "sig",
    options: { ...options, ...opts },
  }) satisfies Installed;

const limits: DeviceLimits = { unsupportedKernels: new Set(), memoryBudgetBytes: 2 ** 30 };
const state = (over: Partial<ReconcileState>): ReconcileState => ({
  desired: null,
  serving: null,
  cached: new Set(),
  abandoned: new Set(),
  reported: null,
  ...over,
});
const actions = (s: ReconcileState, l = limits) => planSteps(s, l).map((x) => x.action);
const FULL = ["verifyManifest", "download", "verifyArtifact", "load", "warmUp", "swap", "report"];

describe("planSteps", () => {
  it.each([
    ["no desired state yet", state({}), []],
    ["a first variant", state({ desired: desired(1, "a") }), FULL],
    [
      "a first variant already cached",
      state({ desired: desired(1, "a"), cached: new Set(["a".repeat(64)]) }),
      FULL.filter((s) => s !== "download"),
    ],
    [
      "a new variant over the one serving",
      state({ desired: desired(2, "b"), serving: installed(1, "a") }),
      FULL,
    ],
    [
      "converged and reported",
      state({
        desired: desired(1, "a"),
        serving: installed(1, "a"),
        reported: { generation: 1, phase: "applied" },
      }),
      [],
    ],
    [
      "converged, report lost (e.g. sent while offline)",
      state({ desired: desired(1, "a"), serving: installed(1, "a") }),
      ["report"],
    ],
    [
      "same artifact, new generation with other batching: reload from the cache",
      state({
        desired: desired(2, "a", { maxBatch: 1 }),
        serving: installed(1, "a"),
        cached: new Set(["a".repeat(64)]),
      }),
      FULL.filter((s) => s !== "download"),
    ],
    [
      "run nothing, something serves",
      state({ desired: desired(3, null), serving: installed(2, "a") }),
      ["unload", "report"],
    ],
    ["run nothing, nothing serves", state({ desired: desired(3, null) }), ["report"]],
    [
      "a generation given up on",
      state({ desired: desired(4, "b"), serving: installed(3, "a"), abandoned: new Set([4]) }),
      [],
    ],
  ])("%s -> %j", (_what, s, expected) => {
    expect(actions(s)).toEqual(expected);
  });

  it.each([
    [
      "a kernel the device lacks",
      desired(1, "a", {}, { kernelType: "int4" }),
      { ...limits, unsupportedKernels: new Set(["int4"]) },
      /needs int4 kernels/,
    ],
    [
      "more memory than the device has",
      desired(1, "a", {}, { memoryBytes: 64 * 2 ** 20 }),
      { ...limits, memoryBudgetBytes: 48 * 2 ** 20 },
      /needs 64\.0 MiB, this device has 48\.0 MiB/,
    ],
  ])("refuses %s", (_what, d, l, reason) => {
    const steps = planSteps(state({ desired: d, serving: installed(0, "z") }), l);
    expect(steps).toEqual([{ action: "refuse", reason: expect.stringMatching(reason) }]);
    expect(refusalReason(d.assignment!.manifest, l)).toMatch(reason);
  });
});

describe("acceptDesired", () => {
  it.each([
    [null, desired(1, "a"), "dev", true],
    [desired(1, "a"), desired(2, "b"), "dev", true],
    [desired(2, "b"), desired(2, "c"), "dev", false],
    [desired(3, "b"), desired(2, "a"), "dev", false],
    [null, desired(1, "a"), "other-device", false],
  ])("held %j, incoming gen %j -> %s", (held, incoming, deviceId, expected) => {
    expect(acceptDesired(held, incoming, deviceId)).toBe(expected);
  });
});
