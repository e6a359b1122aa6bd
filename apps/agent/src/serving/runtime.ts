// The inference runtime behind the local APIs, as an adapter: the serving layer only knows
// `InferenceRuntime` / `LoadedModel`, and `ortRuntime()` is the ONNX Runtime implementation.
//
// onnxruntime-node is imported lazily, inside the first load: its shared library and a session add
// ~35-38 MB of RSS, which an agent with nothing assigned should not pay. For the same reason
// nothing here imports @edgefleet/runtime (its index pulls ORT in at import time); the few lines
// of session setup it would give are repeated below.
import type * as Ort from "onnxruntime-node";
import { sampleSize } from "./batch-plan";
import { ModelLoadError, UnsupportedModelError } from "./errors";

export interface ModelLoadOptions {
  /** ONNX Runtime intra-op threads; 0 lets ORT choose (one per physical core). */
  threads: number;
  /** Sets `session.disable_quant_qdq=1` (weight-only DequantizeLinear folded at load). */
  disableQuantQdq: boolean;
}

export interface OutputTensor {
  dims: number[];
  data: Float32Array;
}

export interface LoadedModel {
  readonly inputName: string;
  /** Dims of one sample: the input's dims after the batch axis. */
  readonly sampleDims: number[];
  /** In the model's order; the binary HTTP form answers with the first. */
  readonly outputNames: string[];
  /** The batch axis is dynamic, so concurrent requests can be stacked into one run. */
  readonly dynamicBatch: boolean;
  /** When the batch axis is static: the only batch the model takes. */
  readonly fixedBatch?: number;
  /** `input` holds `batch` samples, row-major. */
  run(input: Float32Array, batch: number): Promise<Record<string, OutputTensor>>;
  release(): Promise<void>;
}

export interface InferenceRuntime {
  load(onnx: Uint8Array, opts: ModelLoadOptions): Promise<LoadedModel>;
}

type OrtModule = typeof Ort;
let ortModule: Promise<OrtModule> | undefined;

function importOrt(): Promise<OrtModule> {
  ortModule ??= import("onnxruntime-node").catch((err) => {
    ortModule = undefined;
    throw err;
  });
  return ortModule;
}

export function ortRuntime(): InferenceRuntime {
  return {
    async load(onnx, opts) {
      const ort = await importOrt();
      const session = await createSession(ort, onnx, opts);
      try {
        return describe(ort, session);
      } catch (err) {
        await session.release();
        throw err;
      }
    },
  };
}

async function createSession(
  ort: OrtModule,
  onnx: Uint8Array,
  opts: ModelLoadOptions,
): Promise<Ort.InferenceSession> {
  const options: Ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    interOpNumThreads: 1,
    // Fatal only: run failures reach the caller as exceptions (InferenceFailedError) and go to the
    // agent's structured log; ORT's own stderr lines would only repeat them outside it.
    logSeverityLevel: 4,
    extra: { session: opts.disableQuantQdq ? { disable_quant_qdq: "1" } : {} },
  };
  if (opts.threads > 0) options.intraOpNumThreads = opts.threads;
  try {
    return await ort.InferenceSession.create(onnx, options);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new ModelLoadError(`ONNX Runtime could not load the model: ${firstLine(detail)}`, {
      cause,
    });
  }
}

/** Reads the model's signature from the session and refuses what this layer cannot serve. */
function describe(ort: OrtModule, session: Ort.InferenceSession): LoadedModel {
  const inputs = session.inputMetadata;
  if (inputs.length !== 1) {
    const names = inputs.map((i) => i.name).join(", ");
    throw new UnsupportedModelError(
      names || "(none)",
      `the model has ${inputs.length} inputs; only single-input models are served`,
    );
  }
  const input = inputs[0];
  if (!input.isTensor || input.type !== "float32") {
    const type = input.isTensor ? input.type : "not a tensor";
    throw new UnsupportedModelError(input.name, `input is ${type}; only float32 is served`);
  }
  if (input.shape.length < 2) {
    throw new UnsupportedModelError(
      input.name,
      `input has rank ${input.shape.length}; expected a batch axis and at least one sample axis`,
    );
  }
  const [batchDim, ...rest] = input.shape;
  const sampleDims = rest.map((d) => (typeof d === "number" && d > 0 ? d : 0));
  if (sampleDims.includes(0)) {
    throw new UnsupportedModelError(
      input.name,
      `sample dims [${rest.join(", ")}] are not all static; only the batch axis may be dynamic`,
    );
  }
  for (const out of session.outputMetadata) {
    if (out.isTensor && out.type !== "float32") {
      throw new UnsupportedModelError(out.name, `output is ${out.type}; only float32 is served`);
    }
  }
  const dynamicBatch = !(typeof batchDim === "number" && batchDim > 0);
  const inputName = input.name;
  const outputNames = [...session.outputNames];
  let released = false;
  return {
    inputName,
    sampleDims,
    outputNames,
    dynamicBatch,
    fixedBatch: dynamicBatch ? undefined : (batchDim as number),
    async run(data, batch) {
      const tensor = new ort.Tensor("float32", data, [batch, ...sampleDims]);
      const results = await session.run({ [inputName]: tensor });
      const out: Record<string, OutputTensor> = {};
      for (const name of outputNames) {
        const t = results[name];
        // Checked at load for declared types; a graph can still produce something else.
        if (!(t?.data instanceof Float32Array)) {
          throw new Error(`output ${name} is ${t?.type ?? "missing"}, not float32`);
        }
        out[name] = { dims: [...t.dims], data: t.data };
      }
      return out;
    },
    async release() {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}

/**
 * Runs zeros through the model `runs` times at `batch`: the first runs of a session allocate
 * and pick kernels, and a variant that cannot even run must fail here, before it is swapped in.
 * Errors propagate unchanged.
 */
export async function warmUp(model: LoadedModel, runs: number, batch = 1): Promise<void> {
  const b = model.dynamicBatch ? batch : (model.fixedBatch ?? 1);
  const zeros = new Float32Array(b * sampleSize(model.sampleDims));
  for (let i = 0; i < runs; i++) await model.run(zeros, b);
}

function firstLine(s: string): string {
  return s.split("\n")[0].trim();
}
