import type { VariantView } from "@edgefleet/protocol/rest";
import { describe, expect, it } from "vitest";
import { agentCommand } from "./agent-command";
import { can, isRole } from "./roles";
import { plottable, recipeText } from "./variant";

describe("can", () => {
  it.each([
    ["viewer", "viewer", true],
    ["viewer", "operator", false],
    ["operator", "operator", true],
    ["operator", "admin", false],
    ["admin", "operator", true],
    [null, "viewer", false],
  ] as const)("%s may do what needs %s: %s", (role, needed, ok) => {
    expect(can(role, needed)).toBe(ok);
  });
  it("knows the roles", () => {
    expect(["admin", "operator", "viewer", "root", 1].map(isRole)).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});

describe("recipeText", () => {
  it.each([
    [[], []],
    [null, []],
    [[{ op: "quantize", weights: "int8", mode: "static" }], ["quantize weights=int8 mode=static"]],
    [
      [
        { op: "prune", schedule: [0.5, 0.9], scope: "global", fineTuneEpochs: 1 },
        { op: "pack", codec: "brotli" },
      ],
      ["prune schedule=0.5/0.9 scope=global fineTuneEpochs=1", "pack codec=brotli"],
    ],
    [["fp16"], ["fp16"]],
  ])("%j", (recipe, lines) => expect(recipeText(recipe)).toEqual(lines));
});

describe("plottable", () => {
  it("keeps variants with a latency and bytes", () => {
    const v = (id: string, latencyB1Ms: number | null, shippedBytes = 100) =>
      ({ id, latencyB1Ms, shippedBytes, accuracy: 0.9 }) as VariantView;
    expect(plottable([v("a", 1), v("b", null), v("c", 2, 0)]).map((p) => p.id)).toEqual(["a"]);
  });
});

describe("agentCommand", () => {
  it("is the README's command with the token", () => {
    expect(agentCommand({ token: "tok", grpc: "cp:50051" })).toBe(
      "ENROLLMENT_TOKEN=tok CONTROL_PLANE_GRPC=cp:50051 DATA_DIR=/var/lib/edgefleet node --max-semi-space-size=1 --lite-mode apps/agent/dist/agent.mjs",
    );
  });
});
