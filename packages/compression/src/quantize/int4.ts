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
} from "@edgefleet/onnx";
import { quantizeBlockwiseUint4 } from "./qmath";
import { constantsToInitializers, dropUnreadInitializers, weightedNodes } from "./weights";

/**
 * int4 blockwise weight quantization: MatMul (and plain Gemm) with a 2-D weight become
 * com.microsoft MatMulNBits (bits 4, uint4 with per-block zero points). Conv is left float.
 */
export function quantizeInt4(model: ModelProto, options: { blockSize?: number } = {}): ModelProto {
  const blockSize = options.blockSize ?? 32;
  const m = cloneModel(model);
  constantsToInitializers(m);
  requireOpset(m, "com.microsoft", 1);
  const g = m.graph as GraphProto;
  const fresh = uniqueNamer(g);
  const replacements = new Map<NodeProto, NodeProto[]>();
  for (const { node, weight, channelAxis } of weightedNodes(g, ["MatMul", "Gemm"])) {
    if (node.opType === "Gemm" && channelAxis !== 1) continue;
    const [k, n] = tensorDims(weight);
    const bq = quantizeBlockwiseUint4(tensorToFloat32(weight), k, n, blockSize);
    const base = weight.name ?? "w";
    const [bn, sn, zn] = [fresh(`${base}_Q4`), fresh(`${base}_scales`), fresh(`${base}_zp`)];
    g.initializer?.push(
      makeTensor(bn, DataType.UINT8, [n, bq.blocks, blockSize / 2], { raw: bq.packed }),
      makeTensor(sn, DataType.FLOAT, [n * bq.blocks], bq.scales),
      makeTensor(zn, DataType.UINT8, [bq.zeroPoints.length], { raw: bq.zeroPoints }),
    );
    const x = node.input?.[0] ?? "";
    const bias = node.opType === "Gemm" ? node.input?.[2] : undefined;
    const out = node.output?.[0] ?? "";
    const mmOut = bias ? fresh(`${out}_nobias`) : out;
    const nodes = [
      makeNode("MatMulNBits", [x, bn, sn, zn], [mmOut], {
        name: fresh(`${node.name}_Q4`),
        domain: "com.microsoft",
        attrs: { K: k, N: n, bits: 4, block_size: blockSize },
      }),
    ];
    if (bias)
      nodes.push(makeNode("Add", [mmOut, bias], [out], { name: fresh(`${node.name}_bias`) }));
    replacements.set(node, nodes);
  }
  g.node = (g.node ?? []).flatMap((n) => replacements.get(n) ?? [n]);
  g.node = topoSort(g);
  dropUnreadInitializers(g);
  return m;
}
