// The ONNX Runtime adapter on real models; and the promise that the serving layer does not load
// ORT until a model is loaded.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { ModelLoadError, UnsupportedModelError } from "./errors";
import { ortRuntime, warmUp } from "./runtime";
import {
  fixedBatchModel,
  int64InputModel,
  mlpModel,
  reshapeTrapModel,
  sampleInput,
  twoInputModel,
} from "./test-models";

const runtime = ortRuntime();
const opts = { threads: 1, disableQuantQdq: false };

describe("ortRuntime", () => {
  it("describes the model and runs it like ONNX Runtime called directly", async () => {
    const bytes = mlpModel([6, 5, 3], 7);
    const model = await runtime.load(bytes, opts);
    expect(model).toMatchObject({
      inputName: "input",
      sampleDims: [6],
      outputNames: ["logits"],
      dynamicBatch: true,
    });
    const x = sampleInput(12);
    const out = await model.run(x, 2);
    const direct = await ort.InferenceSession.create(bytes);
    const ref = await direct.run({ input: new ort.Tensor("float32", x, [2, 6]) });
    expect(out.logits.dims).toEqual([2, 3]);
    expect([...out.logits.data]).toEqual([...(ref.logits.data as Float32Array)]);
    await direct.release();
    await model.release();
    await model.release(); // idempotent
  });

  it("reports a static batch axis", async () => {
    const model = await runtime.load(fixedBatchModel(), opts);
    expect(model).toMatchObject({ dynamicBatch: false, fixedBatch: 1, sampleDims: [4] });
    await model.release();
  });

  it("refuses bytes ONNX Runtime cannot load, with ORT's first line", async () => {
    const err = await runtime.load(new Uint8Array([1, 2, 3, 4]), opts).catch((e) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect(err.message).toMatch(
      /^ONNX Runtime could not load the model: .*protobuf parsing failed/,
    );
    expect(err.message).not.toContain("\n");
  });

  it.each([
    ["a non-float32 input", int64InputModel(), "ids", /int64; only float32/],
    ["two inputs", twoInputModel(), "a, b", /2 inputs/],
  ])("refuses %s, naming the input", async (_name, bytes, tensor, message) => {
    const err = await runtime.load(bytes, opts).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedModelError);
    expect(err.tensor).toBe(tensor);
    expect(err.message).toMatch(message);
  });

  it("warm-up passes on a model that runs and fails on one that does not", async () => {
    const good = await runtime.load(mlpModel([4, 2], 1), opts);
    await expect(warmUp(good, 2)).resolves.toBeUndefined();
    await good.release();
    const bad = await runtime.load(reshapeTrapModel(), opts);
    await expect(warmUp(bad, 2)).rejects.toThrow(/reshape/i);
    await bad.release();
  });
});

describe("lazy ONNX Runtime", () => {
  it("an agent serving nothing has not loaded ORT; the first load does", async () => {
    const script = fileURLToPath(new URL("./lazy-ort.fixture.ts", import.meta.url));
    const dir = await mkdtemp(join(tmpdir(), "lazy-ort-"));
    const modelPath = join(dir, "mlp.onnx");
    await writeFile(modelPath, mlpModel([4, 2], 1));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", script, modelPath],
      { timeout: 30_000 },
    );
    await rm(dir, { recursive: true, force: true });
    const report = JSON.parse(stdout.trim().split("\n").pop() ?? "{}");
    expect(report).toMatchObject({ ortBeforeLoad: false, ortAfterLoad: true, status: 503 });
  }, 40_000);
});
