import { readFile } from "node:fs/promises";
import {
  createMlp,
  exportOnnx,
  loadMnistSplit,
  ONNX_INPUT,
  type Sequential,
  type Split,
  type Trainable,
  takeSplit,
  trainClassifier,
} from "@edgefleet/compression";
import {
  assertSupportedOps,
  type Dim,
  decodeModel,
  type ModelProto,
  readModelFile,
  runtimeInputs,
  ShapeMismatchError,
  toNumber,
} from "@edgefleet/onnx";
import { CliInputError } from "./errors";

export { CliInputError } from "./errors";

export interface ResolvedModel {
  model: ModelProto;
  source: string;
  inputName: string;
  /** per-sample dims as declared (numbers, or names for dynamic dims) */
  declaredDims: Dim[];
  sequential?: Sequential;
}

export const BUILTIN_MLP = "builtin:mnist-mlp";
/** LeNet-300-100, the Deep Compression MLP. */
export const BUILTIN_WIDTHS = [784, 300, 100, 10];

export interface TrainSettings {
  epochs: number;
  seed: number;
  onProgress?: (done: number, total: number) => void;
}

export const TRAIN_OPTIONS = { optimizer: "adam", lr: 1e-3, batchSize: 64 } as const;

export async function resolveModel(spec: string, train: TrainSettings): Promise<ResolvedModel> {
  if (spec === BUILTIN_MLP) {
    const data = loadMnistSplit().train;
    const seq = createMlp(BUILTIN_WIDTHS, train.seed);
    const steps = Math.ceil(data.n / TRAIN_OPTIONS.batchSize);
    trainClassifier(seq, data, {
      ...TRAIN_OPTIONS,
      epochs: train.epochs,
      seed: train.seed,
      onProgress: (epoch, step) =>
        train.onProgress?.(epoch * steps + step + 1, train.epochs * steps),
    });
    const model = decodeModel(exportOnnx(seq));
    return { model, source: spec, inputName: ONNX_INPUT, declaredDims: [784], sequential: seq };
  }
  if (spec.startsWith("builtin:"))
    throw new CliInputError(`unknown built-in model "${spec}" (known: ${BUILTIN_MLP})`);
  let model: ModelProto;
  try {
    model = await readModelFile(spec);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CliInputError(`model file not found: ${spec}`, { cause: err });
    if (code === "EISDIR")
      throw new CliInputError(`model path is a directory: ${spec}`, { cause: err });
    throw err;
  }
  assertSupportedOps(model.graph ?? {});
  const inputs = runtimeInputs(model.graph ?? {});
  if (inputs.length !== 1 || inputs[0].type?.tensorType?.elemType !== 1) {
    throw new CliInputError(`model must have exactly one float32 input (has ${inputs.length})`);
  }
  const dims = (inputs[0].type?.tensorType?.shape?.dim ?? []).map((d) =>
    d.dimParam ? d.dimParam : d.dimValue != null ? toNumber(d.dimValue) : "?",
  );
  return { model, source: spec, inputName: inputs[0].name ?? "", declaredDims: dims.slice(1) };
}

export interface ResolvedData {
  name: string;
  sampleDims: number[];
  labelled?: Split;
  calibration: { x: Float32Array; n: number };
  train?: Split;
}

/**
 * `mnist`: the documented split (labels, training data). `synthetic:<n>`: n seeded uniform
 * [0,1) samples for fidelity-only runs. `<file>.json`: `{ "sampleDims": [...], "samples":
 * number[][] }`, calibration inputs without labels.
 */
export async function resolveData(
  spec: string,
  model: ResolvedModel,
  opts: { calibrationSamples: number; testSamples: number; inputShape?: number[] },
): Promise<ResolvedData> {
  if (spec === "mnist") {
    const s = loadMnistSplit();
    const dims = fitDims(model, [784], opts.inputShape);
    const calib = takeSplit(s.calibration, Math.min(opts.calibrationSamples, s.calibration.n));
    return {
      name: "mnist",
      sampleDims: dims,
      labelled: takeSplit(s.test, Math.min(opts.testSamples, s.test.n)),
      calibration: { x: calib.x, n: calib.n },
      train: s.train,
    };
  }
  if (spec.startsWith("synthetic:")) {
    const n = Number(spec.slice("synthetic:".length));
    if (!Number.isInteger(n) || n < 1) throw new CliInputError(`bad synthetic dataset "${spec}"`);
    const dims = opts.inputShape ?? concreteDims(model);
    const per = dims.reduce((a, b) => a * b, 1);
    let seed = 12345;
    const x = Float32Array.from({ length: n * per }, () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    });
    return { name: spec, sampleDims: dims, calibration: { x, n } };
  }
  let parsed: { sampleDims?: number[]; samples?: number[][] };
  try {
    parsed = JSON.parse(await readFile(spec, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliInputError(
      code === "ENOENT" ? `dataset file not found: ${spec}` : `dataset is not valid JSON: ${spec}`,
      { cause: err },
    );
  }
  const samples = parsed.samples ?? [];
  const sampleDims = parsed.sampleDims ?? [];
  const per = sampleDims.reduce((a, b) => a * b, 1);
  if (!samples.length || samples.some((s) => s.length !== per)) {
    throw new ShapeMismatchError(
      `dataset ${spec}: every sample must have ${per} values (sampleDims ${JSON.stringify(sampleDims)})`,
    );
  }
  const dims = fitDims(model, sampleDims, opts.inputShape);
  return {
    name: spec,
    sampleDims: dims,
    calibration: { x: Float32Array.from(samples.flat()), n: samples.length },
  };
}

function concreteDims(model: ResolvedModel): number[] {
  if (model.declaredDims.some((d) => typeof d !== "number")) {
    throw new CliInputError(
      `model input has dynamic dims ${JSON.stringify(model.declaredDims)}: pass --input-shape`,
    );
  }
  return model.declaredDims as number[];
}

/** The data's per-sample dims reshaped to the model's, refusing what cannot fit. */
function fitDims(model: ResolvedModel, dataDims: number[], forced?: number[]): number[] {
  const elements = dataDims.reduce((a, b) => a * b, 1);
  const target =
    forced ?? model.declaredDims.map((d, i) => (typeof d === "number" ? d : (dataDims[i] ?? -1)));
  const fits =
    target.length === model.declaredDims.length &&
    target.every(
      (d, i) => typeof model.declaredDims[i] !== "number" || model.declaredDims[i] === d,
    ) &&
    target.reduce((a, b) => a * b, 1) === elements;
  if (!fits) {
    throw new ShapeMismatchError(
      `dataset samples are ${JSON.stringify(dataDims)} (${elements} values) but the model input expects ${JSON.stringify(model.declaredDims)} per sample`,
    );
  }
  return target;
}

export function trainableFor(
  model: ResolvedModel,
  data: ResolvedData,
  seed: number,
): Trainable | undefined {
  if (!model.sequential || !data.train) return undefined;
  return { model: model.sequential, train: data.train, seed, trainOptions: { ...TRAIN_OPTIONS } };
}
