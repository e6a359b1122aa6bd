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

type Gate = Pick<NonNullable<DesiredState["assignment"]>, "shadow" | "canary">;
/** A desired state whose assignment has rollout gates (shadow mode, a canary set). */
const gated = (generation: number, digest: string, gate: Partial<Gate>): DesiredState => {
  const d = desired(generation, digest);
  return { ...d, assignment: { ...d.assignment!, ...gate } };
};
const canary = (digest: string) => ({
  digest: digest.repeat(64).slice(0, 64),
  sizeBytes: 500,
  samples: 64,
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

describe("planSteps with rollout gates", () => {
  const cached = (...d: string[]) => new Set(d.map((x) => x.repeat(64).slice(0, 64)));
  it.each([
    [
      "a canary set: downloaded with the variant, evaluated after warm-up, before the swap",
      state({ desired: gated(2, "b", { canary: canary("c") }), serving: installed(1, "a") }),
      [
        "verifyManifest",
        "download",
        "download",
        "verifyArtifact",
        "load",
        "warmUp",
        "evaluateCanary",
        "swap",
        "report",
      ],
    ],
    [
      "a canary set already cached (e.g. a retry after the model's download failed)",
      state({
        desired: gated(2, "b", { canary: canary("c") }),
        serving: installed(1, "a"),
        cached: cached("c"),
      }),
      [
        "verifyManifest",
        "download",
        "verifyArtifact",
        "load",
        "warmUp",
        "evaluateCanary",
        "swap",
        "report",
      ],
    ],
    [
      "variant and canary set cached",
      state({ desired: gated(2, "b", { canary: canary("c") }), cached: cached("b", "c") }),
      ["verifyManifest", "verifyArtifact", "load", "warmUp", "evaluateCanary", "swap", "report"],
    ],
    [
      "shadow mode alone adds no step (the swap keeps the old variant)",
      state({
        desired: gated(2, "b", { shadow: { sampleRate: 0.1 } }),
        serving: installed(1, "a"),
      }),
      FULL,
    ],
    [
      "converged with a canary set: nothing is evaluated again",
      state({
        desired: gated(2, "b", { canary: canary("c") }),
        serving: installed(2, "b"),
        reported: { generation: 2, phase: "applied" },
      }),
      [],
    ],
    [
      "converged with a canary set, report lost: only the report (it repeats the stored result)",
      state({ desired: gated(2, "b", { canary: canary("c") }), serving: installed(2, "b") }),
      ["report"],
    ],
  ])("%s -> %j", (_what, s, expected) => {
    expect(actions(s)).toEqual(expected);
  });

  it("downloads the canary set by its digest and size, and evaluates that digest", () => {
    const steps = planSteps(
      state({ desired: gated(2, "b", { canary: canary("c") }), cached: cached("b") }),
      limits,
    );
    const c = "c".repeat(64);
    expect(steps).toContainEqual({ action: "download", digest: c, bytes: 500 });
    expect(steps).toContainEqual({ action: "evaluateCanary", digest: c });
  });

  it.each([
    ["shadow mode", { sampleRate: 0.25 }],
    ["no shadow", null],
  ])("the swap carries the assignment's shadow setting: %s", (_what, shadow) => {
    const steps = planSteps(
      state({ desired: gated(2, "b", { shadow }), serving: installed(1, "a") }),
      limits,
    );
    expect(steps.find((s) => s.action === "swap")).toEqual({ action: "swap", shadow });
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
