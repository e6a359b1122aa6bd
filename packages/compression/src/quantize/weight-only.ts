import {
  cloneModel,
  DataType,
  FLOAT8E4M3FN_MAX,
  float8E4M3FNToFloat32,
  float32ToFloat8E4M3FN,
  type GraphProto,
  type ModelProto,
  tensorDims,
  tensorToFloat32,
  topoSort,
  uniqueNamer,
  upgradeOpset,
} from "@edgefleet/onnx";
import { dequantizedWeight, type QdqWriter, qdqDomain } from "./qdq";
import { type ChannelQuant, INT8, quantizeTensor, UINT8 } from "./qmath";
import { constantsToInitializers, dropUnreadInitializers, weightedNodes } from "./weights";

export interface WeightOnlyOptions {
  perChannel?: boolean;
  /** symmetric int8 (zero point 0) or asymmetric uint8 with a zero point per scale */
  symmetric?: boolean;
  ops?: string[];
}

/**
 * Weights stored as int8/uint8 + scale (+ zero point) behind DequantizeLinear; compute stays
 * float. Saves bytes; speed only if the runtime folds the DQ at load (disable_quant_qdq).
 */
export function quantizeWeightsInt8(
  model: ModelProto,
  options: WeightOnlyOptions = {},
): ModelProto {
  const symmetric = options.symmetric ?? true;
  return rewriteWeights(model, options, (data, dims, axis) => ({
    cq: quantizeTensor(data, dims, axis, symmetric ? INT8 : UINT8, symmetric),
    qtype: symmetric ? DataType.INT8 : DataType.UINT8,
  }));
}

/** float8 e4m3fn weights with a float scale per channel (absmax maps to 448). Opset 19. */
export function quantizeWeightsFp8(model: ModelProto, options: WeightOnlyOptions = {}): ModelProto {
  return rewriteWeights(
    model,
    options,
    (data, dims, axis) => ({ cq: fp8Quantize(data, dims, axis), qtype: DataType.FLOAT8E4M3FN }),
    19,
  );
}

/** Scales absmax/448 per channel; `q` holds the e4m3fn codes (zero point 0). */
export function fp8Quantize(
  data: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
): ChannelQuant {
  const channels = axis === undefined ? 1 : dims[axis];
  const inner = axis === undefined ? data.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const ch = (i: number) => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
  const absmax = new Float32Array(channels);
  for (let i = 0; i < data.length; i++) absmax[ch(i)] = Math.max(absmax[ch(i)], Math.abs(data[i]));
  const scales = Float32Array.from(absmax, (a) => a / FLOAT8E4M3FN_MAX || 1);
  // q holds the e4m3 grid values themselves: makeTensor re-encodes them exactly to codes.
  const q = Float32Array.from(data, (v, i) =>
    float8E4M3FNToFloat32(float32ToFloat8E4M3FN(v / scales[ch(i)])),
  );
  return { q, scales, zeroPoints: new Int32Array(channels) };
}

type WeightQuantizer = (
  data: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
) => { cq: ChannelQuant; qtype: number };

function rewriteWeights(
  model: ModelProto,
  options: WeightOnlyOptions,
  quantize: WeightQuantizer,
  minOpset = 0,
): ModelProto {
  const m = cloneModel(model);
  constantsToInitializers(m);
  if (minOpset) upgradeOpset(m, minOpset);
  const g = m.graph as GraphProto;
  const w: QdqWriter = { domain: qdqDomain(m), fresh: uniqueNamer(g), nodes: [], initializers: [] };
  for (const { node, weight, channelAxis } of weightedNodes(g, options.ops)) {
    const dims = tensorDims(weight);
    const axis = (options.perChannel ?? true) ? channelAxis : undefined;
    const { cq, qtype } = quantize(tensorToFloat32(weight), dims, axis);
    const name = dequantizedWeight(w, weight.name ?? "w", dims, cq, qtype, axis);
    node.input = (node.input ?? []).map((i, k) => (k === 1 ? name : i));
  }
  g.initializer = [...(g.initializer ?? []), ...w.initializers];
  g.node = [...(g.node ?? []), ...w.nodes];
  g.node = topoSort(g);
  dropUnreadInitializers(g);
  return m;
}
