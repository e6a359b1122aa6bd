import { encodeModel, type ModelProto } from "@edgefleet/onnx";
import { createSession, floatTensor, run } from "@edgefleet/runtime";
import type { CalibrationBatch } from "./calibrate";
import { type ActivationRange, quantizeStatic, type StaticQuantOptions } from "./static";
import { weightedNodes } from "./weights";

export interface NodeSensitivity {
  node: string;
  /** cosine similarity of the model output with only this node quantized, vs float */
  cosine: number;
}

async function firstOutput(model: ModelProto, batch: CalibrationBatch): Promise<Float32Array> {
  const s = await createSession(encodeModel(model), { threads: 1 });
  try {
    const feeds = Object.fromEntries(
      Object.entries(batch).map(([k, v]) => [k, floatTensor(v.data, v.dims)]),
    );
    const out = await run(s, feeds);
    return out[s.outputNames[0]].data as Float32Array;
  } finally {
    await s.release();
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / (Math.sqrt(na * nb) || 1);
}

/**
 * One-at-a-time sensitivity: quantize each weighted node alone and see how far the model
 * output moves on one calibration batch. The least tolerant nodes are the ones to keep float.
 */
export async function staticSensitivity(
  prepared: ModelProto,
  ranges: ReadonlyMap<string, ActivationRange>,
  batch: CalibrationBatch,
  options: StaticQuantOptions = {},
): Promise<NodeSensitivity[]> {
  const ref = await firstOutput(prepared, batch);
  const out: NodeSensitivity[] = [];
  for (const { node } of weightedNodes(prepared.graph ?? {}, options.ops)) {
    const name = node.name ?? "";
    const q = quantizeStatic(prepared, ranges, { ...options, only: [name] });
    out.push({ node: name, cosine: cosine(ref, await firstOutput(q, batch)) });
  }
  return out.sort((a, b) => a.cosine - b.cosine);
}
