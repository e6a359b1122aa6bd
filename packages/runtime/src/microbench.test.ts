import { describe, expect, it } from "vitest";
import { runMicrobenchmarks } from "./microbench";

describe("microbenchmarks (real ONNX Runtime)", () => {
  it("runs every graph and reports rates", async () => {
    const { report, modelLoadMs } = await runMicrobenchmarks({
      threads: 1,
      gemmSize: 64,
      dramBytes: 2 ** 20,
      cacheTestBytes: 2 ** 16,
      rounds: 3,
      runsPerRound: 2,
      roundBudgetMs: 10,
    });
    const byName = Object.fromEntries(report.results.map((r) => [r.name, r]));
    for (const name of [
      "fp32-matmul",
      "int8-matmulinteger",
      "int8-qlinearmatmul",
      "int4-matmulnbits",
      "dram-bandwidth",
      "run-overhead",
    ]) {
      expect(byName[name], name).toMatchObject({ ok: true, iterations: 3 });
      expect(byName[name].best, name).toBeGreaterThanOrEqual(
        byName[name].unit === "ms" ? 0 : byName[name].median,
      );
    }
    expect(modelLoadMs.best).toBeGreaterThan(0);
  }, 30_000);
});
