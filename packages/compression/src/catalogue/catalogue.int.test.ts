import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../evaluate/metrics";
import { seeded, tinyMlp } from "../quantize/test-models";
import { buildCatalogue, CATALOGUE_SCHEMA_VERSION, type Catalogue } from "./catalogue";
import { QUANT_RECIPES } from "./recipes";

describe("buildCatalogue on an external model without labels (fidelity)", () => {
  it("builds, measures and writes every quantization variant", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ef-cat-"));
    const recipes = QUANT_RECIPES.filter((r) =>
      ["fp16-weights", "int8-static-minmax", "int8-dynamic", "int4"].includes(r.id),
    );
    const cat = await buildCatalogue({
      base: tinyMlp([64, 64, 10]),
      source: "test:tiny-mlp",
      data: {
        name: "synthetic",
        input: { name: "input", sampleDims: [64] },
        calibration: { x: seeded(100 * 64, 2, 1), n: 100 },
      },
      constraints: { maxDropPoints: 5 },
      recipes,
      outDir: dir,
      evaluate: { latencyIterations: 5 },
    });
    expect(cat.schemaVersion).toBe(CATALOGUE_SCHEMA_VERSION);
    expect(cat.data.metric).toBe("fidelity");
    expect(cat.variants.map((v) => v.id)).toEqual(["fp32", ...recipes.map((r) => r.id)]);
    for (const v of cat.variants) {
      expect(v.status, v.error).toBe("ok");
      const bytes = new Uint8Array(await readFile(join(dir, v.artifact?.file ?? "")));
      expect(sha256Hex(bytes)).toBe(v.artifact?.sha256);
      expect(v.fidelity?.top1Agreement).toBeGreaterThan(0.8);
      expect(v.latencyMs?.batch64.median).toBeGreaterThan(0);
      expect(v.parameters).toBe(64 * 64 + 64 + 64 * 10 + 10);
      expect(v.flops?.total).toBeGreaterThan(2 * 64 * 64);
    }
    expect(cat.variants[0].fidelity?.top1Agreement).toBe(1);
    expect(cat.variants.some((v) => v.pareto)).toBe(true);
    const int4 = cat.variants.find((v) => v.id === "int4");
    expect(int4?.artifact?.bytes).toBeLessThan((cat.variants[0].artifact?.bytes ?? 0) / 3);
    const onDisk = JSON.parse(await readFile(join(dir, "catalogue.json"), "utf8")) as Catalogue;
    expect(onDisk.variants.length).toBe(5);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
