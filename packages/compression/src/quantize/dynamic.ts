import {
  cloneModel,
  DataType,
  type GraphProto,
  type ModelProto,
  makeNode,
  makeTensor,
  type NodeProto,
  requireOpset,
  tensorDims,
  tensorToFloat32,
  topoSort,
  uniqueNamer,
  upgradeOpset,
} from "@edgefleet/onnx";
import { foldBatchNorm } from "./prepare";
import { int8WeightRange, type QRange, quantizeTensor, UINT8 } from "./qmath";
import { constantsToInitializers, dropUnreadInitializers, weightedNodes } from "./weights";

/**
 * Dynamic int8: weights quantized ahead of time, activations quantized per call from their
 * observed range. MatMul/Gemm become com.microsoft DynamicQuantizeMatMul (int8 weights,
 * per output column); Conv becomes DynamicQuantizeLinear + ConvInteger (uint8 weights, per
 * tensor: ORT's ConvInteger has no per-channel zero points). `reduceRange` (default true) keeps
 * the int8 weights to 7 bits for x86 CPUs without VNNI (see int8ReduceRange); ConvInteger's
 * uint8 x uint8 kernel has no int16 pair step and keeps 8 bits.
 */
export function quantizeDynamic(
  model: ModelProto,
  options: { ops?: string[]; reduceRange?: boolean } = {},
): ModelProto {
  const m = cloneModel(model);
  constantsToInitializers(m);
  foldBatchNorm(m); // ConvInteger + BatchNormalization would not fuse: fold it first
  upgradeOpset(m, 13);
  requireOpset(m, "com.microsoft", 1);
  const g = m.graph as GraphProto;
  const fresh = uniqueNamer(g);
  const ops = options.ops ?? ["MatMul", "Gemm", "Conv"];
  const replacements = new Map<NodeProto, NodeProto[]>();
  for (const wn of weightedNodes(g, ops)) {
    const { node } = wn;
    if (node.opType === "Gemm" && !gemmIsPlain(node)) continue;
    replacements.set(
      node,
      node.opType === "Conv"
        ? convInteger(g, wn.node, fresh)
        : dynamicMatMul(g, wn.node, fresh, int8WeightRange(options.reduceRange ?? true)),
    );
  }
  g.node = (g.node ?? []).flatMap((n) => replacements.get(n) ?? [n]);
  g.node = topoSort(g);
  dropUnreadInitializers(g);
  return m;
}

function gemmIsPlain(n: NodeProto): boolean {
  const get = (k: string, d: number) => {
    const a = (n.attribute ?? []).find((x) => x.name === k);
    return a ? Number(a.i ?? a.f ?? d) : d;
  };
  const unit = (k: string) => (n.attribute ?? []).every((a) => a.name !== k || a.f === 1);
  return get("transA", 0) === 0 && get("transB", 0) === 0 && unit("alpha") && unit("beta");
}

function dynamicMatMul(
  g: GraphProto,
  node: NodeProto,
  fresh: (p: string) => string,
  weightRange: QRange,
): NodeProto[] {
  const [x, wName, bias] = node.input ?? [];
  const wt = (g.initializer ?? []).find((t) => t.name === wName);
  if (!wt) return [node];
  const dims = tensorDims(wt);
  const cq = quantizeTensor(tensorToFloat32(wt), dims, 1, weightRange, true);
  const q = fresh(`${wName}_quantized`);
  const s = fresh(`${wName}_scale`);
  const z = fresh(`${wName}_zero_point`);
  g.initializer?.push(
    makeTensor(q, DataType.INT8, dims, cq.q),
    makeTensor(s, DataType.FLOAT, [dims[1]], cq.scales),
    makeTensor(z, DataType.INT8, [dims[1]], cq.zeroPoints),
  );
  return [
    makeNode(
      "DynamicQuantizeMatMul",
      [x, q, s, z, bias ?? ""].filter((v, i) => i < 4 || v),
      node.output ?? [],
      {
        name: fresh(`${node.name}_quant`),
        domain: "com.microsoft",
      },
    ),
  ];
}

function convInteger(g: GraphProto, node: NodeProto, fresh: (p: string) => string): NodeProto[] {
  const [x, wName, bias] = node.input ?? [];
  const wt = (g.initializer ?? []).find((t) => t.name === wName);
  if (!wt) return [node];
  const dims = tensorDims(wt);
  // ORT's ConvInteger takes one weight zero point only: per-tensor uint8.
  const cq = quantizeTensor(tensorToFloat32(wt), dims, undefined, UINT8, false);
  const wq = fresh(`${wName}_quantized`);
  const wz = fresh(`${wName}_zero_point`);
  const ws = fresh(`${wName}_scale`);
  const channels = dims[0];
  g.initializer?.push(
    makeTensor(wq, DataType.UINT8, dims, cq.q),
    makeTensor(wz, DataType.UINT8, [], cq.zeroPoints),
    makeTensor(ws, DataType.FLOAT, [], cq.scales),
  );
  const [xq, xs, xz] = [fresh(`${x}_quantized`), fresh(`${x}_scale`), fresh(`${x}_zero_point`)];
  const acc = fresh(`${node.output?.[0]}_int32`);
  const accF = fresh(`${node.output?.[0]}_float`);
  const scale = fresh(`${node.output?.[0]}_scale`);
  const scaled = bias ? fresh(`${node.output?.[0]}_scaled`) : (node.output?.[0] ?? "");
  const nodes = [
    makeNode("DynamicQuantizeLinear", [x], [xq, xs, xz], {
      name: fresh(`${x}_DynamicQuantizeLinear`),
    }),
    {
      ...makeNode("ConvInteger", [xq, wq, xz, wz], [acc], {
        name: fresh(`${node.name}_ConvInteger`),
      }),
      attribute: node.attribute,
    },
    makeNode("Cast", [acc], [accF], {
      name: fresh(`${node.name}_Cast`),
      attrs: { to: DataType.FLOAT },
    }),
    makeNode("Mul", [xs, ws], [scale], { name: fresh(`${node.name}_scale_Mul`) }),
    makeNode("Mul", [accF, scale], [scaled], { name: fresh(`${node.name}_Mul`) }),
  ];
  if (bias) {
    const b4 = fresh(`${bias}_reshaped`);
    const bt = (g.initializer ?? []).find((t) => t.name === bias);
    if (bt)
      g.initializer?.push(makeTensor(b4, DataType.FLOAT, [1, channels, 1, 1], tensorToFloat32(bt)));
    nodes.push(
      makeNode("Add", [scaled, b4], node.output ?? [], { name: fresh(`${node.name}_bias_Add`) }),
    );
  }
  return nodes;
}
