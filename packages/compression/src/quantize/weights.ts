import {
  attrInt,
  consumerMap,
  DataType,
  type GraphProto,
  initializerMap,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  tensorDims,
} from "@edgefleet/onnx";

/** A compute node whose weight is a constant float initializer. */
export interface WeightedNode {
  node: NodeProto;
  /** index of the weight among the node's inputs */
  weightInput: number;
  weight: TensorProto;
  /** axis of the weight that indexes output channels */
  channelAxis: number;
}

/**
 * Exporters such as paddle2onnx store weights as Constant nodes; quantizers need initializers.
 * Moves every Constant with a tensor `value` into the initializer list (same name).
 */
export function constantsToInitializers(model: ModelProto): void {
  const g = model.graph;
  if (!g) return;
  const inits = g.initializer ?? [];
  g.node = (g.node ?? []).filter((n) => {
    if (n.opType !== "Constant" || (n.domain ?? "") !== "") return true;
    const t = (n.attribute ?? []).find((a) => a.name === "value")?.t;
    if (!t) return true;
    inits.push({ ...t, name: n.output?.[0] ?? "" });
    return false;
  });
  g.initializer = inits;
}

export function weightedNodes(graph: GraphProto, ops = ["MatMul", "Gemm", "Conv"]): WeightedNode[] {
  const inits = initializerMap(graph);
  const out: WeightedNode[] = [];
  for (const node of graph.node ?? []) {
    if ((node.domain ?? "") !== "" || !ops.includes(node.opType ?? "")) continue;
    const weight = inits.get(node.input?.[1] ?? "");
    if (!weight || weight.dataType !== DataType.FLOAT) continue;
    const rank = tensorDims(weight).length;
    if (node.opType === "MatMul" && rank !== 2) continue;
    if (node.opType === "MatMul" && inits.has(node.input?.[0] ?? "")) continue;
    const channelAxis =
      node.opType === "Conv" ? 0 : node.opType === "Gemm" && attrInt(node, "transB", 0) ? 0 : 1;
    out.push({ node, weightInput: 1, weight, channelAxis });
  }
  return out;
}

/** Removes initializers that no node reads any more (after weights were replaced). */
export function dropUnreadInitializers(graph: GraphProto): void {
  const used = consumerMap(graph);
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ""));
  graph.initializer = (graph.initializer ?? []).filter(
    (t) => used.has(t.name ?? "") || outputs.has(t.name ?? ""),
  );
}
