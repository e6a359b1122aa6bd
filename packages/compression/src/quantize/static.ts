import {
  cloneModel,
  consumerMap,
  DataType,
  type GraphProto,
  type ModelProto,
  makeTensor,
  type NodeProto,
  tensorDims,
  tensorToFloat32,
  topoSort,
  uniqueNamer,
} from "@edgefleet/onnx";
import { dequantizedWeight, type QdqWriter, qdqDomain, quantDequant } from "./qdq";
import { chooseQParams, INT8, int8WeightRange, quantizeTensor, UINT8 } from "./qmath";
import { dropUnreadInitializers, weightedNodes } from "./weights";

export type ActivationRange = readonly [number, number];

export interface StaticQuantOptions {
  /** per output channel weight scales (default) or one scale per tensor */
  perChannel?: boolean;
  /** 7-bit weights for x86 CPUs without VNNI (see int8ReduceRange); default true, safe anywhere */
  reduceRange?: boolean;
  /** uint8 asymmetric activations (x86 U8S8 kernels, default) or int8 symmetric */
  activationType?: "uint8" | "int8";
  /** also quantize op outputs (after a following Relu), so ORT can chain integer kernels */
  quantizeOutputs?: boolean;
  ops?: string[];
  /** names of weighted nodes to leave in float (mixed precision) */
  exclude?: readonly string[];
  /** quantize only these weighted nodes (sensitivity scans) */
  only?: readonly string[];
}

function selectedNodes(g: GraphProto, options: StaticQuantOptions) {
  const ex = new Set(options.exclude ?? []);
  const only = options.only ? new Set(options.only) : undefined;
  return weightedNodes(g, options.ops ?? DEFAULT_OPS).filter(
    (w) => !ex.has(w.node.name ?? "") && (!only || only.has(w.node.name ?? "")),
  );
}

const DEFAULT_OPS = ["MatMul", "Gemm", "Conv"];

/** Tensors whose ranges calibration must measure for quantizeStatic with these options. */
export function staticCalibrationTargets(model: ModelProto, options: StaticQuantOptions = {}) {
  const g = model.graph ?? {};
  const targets = new Set<string>();
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name ?? ""));
  const consumers = consumerMap(g);
  for (const { node } of selectedNodes(g, options)) {
    targets.add(node.input?.[0] ?? "");
    if (options.quantizeOutputs ?? true) {
      const out = outputAfterActivation(node, consumers);
      if (!graphOutputs.has(out)) targets.add(out);
    }
  }
  targets.delete("");
  return [...targets];
}

function outputAfterActivation(node: NodeProto, consumers: Map<string, NodeProto[]>): string {
  const out = node.output?.[0] ?? "";
  const use = consumers.get(out) ?? [];
  return use.length === 1 && use[0].opType === "Relu" ? (use[0].output?.[0] ?? out) : out;
}

/**
 * QDQ int8: weights int8 symmetric (per channel by default; 7-bit unless reduceRange is false),
 * activations quantized with the calibrated ranges, biases int32 with scale s_x * s_w. Expects
 * prepareForQuantization output.
 */
export function quantizeStatic(
  model: ModelProto,
  ranges: ReadonlyMap<string, ActivationRange>,
  options: StaticQuantOptions = {},
): ModelProto {
  const m = cloneModel(model);
  const g = m.graph as GraphProto;
  const perChannel = options.perChannel ?? true;
  const weightRange = int8WeightRange(options.reduceRange ?? true);
  const act = options.activationType === "int8" ? INT8 : UINT8;
  const actType = options.activationType === "int8" ? DataType.INT8 : DataType.UINT8;
  const w: QdqWriter = { domain: qdqDomain(m), fresh: uniqueNamer(g), nodes: [], initializers: [] };
  const consumers = consumerMap(g);
  const actScale = new Map<string, number>();
  const dqName = new Map<string, string>();
  for (const target of staticCalibrationTargets(m, options)) {
    const r = ranges.get(target);
    if (!r) throw new RangeError(`no calibrated range for tensor "${target}"`);
    const p = chooseQParams(r[0], r[1], act, options.activationType === "int8");
    actScale.set(target, p.scale);
    dqName.set(target, quantDequant(w, target, p.scale, p.zeroPoint, actType));
  }
  for (const { node, weight, channelAxis } of selectedNodes(g, options)) {
    const dims = tensorDims(weight);
    const axis = perChannel ? channelAxis : undefined;
    const cq = quantizeTensor(tensorToFloat32(weight), dims, axis, weightRange, true);
    const base = weight.name ?? "w";
    const wdq = dequantizedWeight(w, base, dims, cq, DataType.INT8, axis);
    const inputs = [...(node.input ?? [])];
    inputs[1] = wdq;
    const biasIdx = 2;
    const sx = actScale.get(inputs[0]);
    const bias = (g.initializer ?? []).find((t) => t.name === inputs[biasIdx]);
    if (bias && sx !== undefined && tensorDims(bias).length === 1) {
      inputs[biasIdx] = quantizedBias(w, bias.name ?? "b", tensorToFloat32(bias), sx, cq.scales);
    }
    node.input = inputs;
  }
  // Every reader of a quantized activation reads its dequantized twin (QDQ format semantics).
  for (const [tensor, dq] of dqName) {
    for (const n of consumers.get(tensor) ?? []) {
      n.input = (n.input ?? []).map((i) => (i === tensor ? dq : i));
    }
  }
  g.node = [...(g.node ?? []), ...w.nodes];
  g.initializer = [...(g.initializer ?? []), ...w.initializers];
  g.node = topoSort(g);
  dropUnreadInitializers(g);
  return m;
}

function quantizedBias(
  w: QdqWriter,
  base: string,
  bias: Float32Array,
  sx: number,
  wScales: Float32Array,
): string {
  const scales = Float32Array.from(bias, (_, c) => sx * wScales[wScales.length > 1 ? c : 0]);
  const q = Int32Array.from(bias, (b, c) => Math.round(b / scales[c]));
  const qn = w.fresh(`${base}_quantized`);
  const sn = w.fresh(`${base}_scale`);
  const zn = w.fresh(`${base}_zero_point`);
  w.initializers.push(
    makeTensor(qn, DataType.INT32, [bias.length], q),
    makeTensor(sn, DataType.FLOAT, [bias.length], scales),
    makeTensor(zn, DataType.INT32, [bias.length], new Int32Array(bias.length)),
  );
  const out = w.fresh(`${base}_dequantized`);
  w.nodes.push({
    opType: "DequantizeLinear",
    input: [qn, sn, zn],
    output: [out],
    name: w.fresh(`${base}_DequantizeLinear`),
    domain: w.domain || undefined,
    attribute: [{ name: "axis", type: 2, i: 0 }],
  });
  return out;
}
