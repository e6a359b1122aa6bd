// Splitting one ONNX graph into consecutive stage graphs at tensor boundaries (pipeline-split
// inference). `planSplit` is the decision (which node runs in which stage, which tensors cross
// each boundary); `splitModel` builds the stage models from it. No npm package extracts ONNX
// subgraphs between named tensors, so this is built on the project's own protobuf helpers.
import type { Dim } from "./builder";
import { valueInfo } from "./builder";
import { initializerMap, requireGraph, runtimeInputs, topoSort } from "./graph";
import { cloneModel } from "./model-io";
import type { GraphProto, ModelProto, NodeProto, TensorProto } from "./proto";
import { inferShapes, type TensorInfo } from "./shape";
import { tensorByteSize, tensorDims } from "./tensor";

export class InvalidCutError extends Error {
  override name = "InvalidCutError";
  constructor(
    message: string,
    readonly field = "cuts",
  ) {
    super(message);
  }
}

/** What one stage of a split holds, before its model is built. */
export interface StagePlan {
  index: number;
  /** Indices into the topologically sorted node list. */
  nodes: number[];
  /** Tensors the stage receives: the graph's runtime inputs for stage 0, else the previous cut. */
  inputs: string[];
  /** Tensors it hands on: the next cut, or the graph's outputs for the last stage. */
  outputs: string[];
  initializers: string[];
  paramBytes: number;
  /** FLOPs per sample (multiply-adds x2 for MatMul/Gemm/Conv, one per output element otherwise). */
  flops: number;
}

export interface SplitPlan {
  stages: StagePlan[];
}

/**
 * Nodes computed from initializers alone (Constant, a Cast of a Constant, ...), given in
 * topological order: they are copied into every stage that reads them and never cross a cut.
 */
function constantNodes(
  nodes: readonly NodeProto[],
  inits: Map<string, TensorProto>,
): Set<NodeProto> {
  const constTensors = new Set(inits.keys());
  const out = new Set<NodeProto>();
  for (const n of nodes) {
    if (!(n.input ?? []).every((i) => i === "" || constTensors.has(i))) continue;
    out.add(n);
    for (const o of n.output ?? []) if (o) constTensors.add(o);
  }
  return out;
}

/** Initializers plus the values of Constant nodes (exporters such as Paddle's use those for weights). */
export function constantTensors(graph: GraphProto): Map<string, TensorProto> {
  const m = initializerMap(graph);
  for (const n of graph.node ?? []) {
    if (n.opType !== "Constant") continue;
    const t = n.attribute?.find((a) => a.name === "value")?.t;
    if (t && n.output?.[0]) m.set(n.output[0], t);
  }
  return m;
}

/**
 * Stage of every node from the cuts: `cuts[k]` are the tensors that cross from stage k to k+1.
 * A node runs in the latest stage any of its inputs belongs to (a cut tensor belongs to the stage
 * after its cut); nodes that read only initializers (Constant) are copied into each stage that
 * reads them. A tensor crossing a boundary that the cuts do not name is refused: each stage hands
 * on only the cut it was given, so activations flow stage to stage and never skip one.
 */
export function planSplit(model: ModelProto, cuts: readonly (readonly string[])[]): SplitPlan {
  const graph = requireGraph(model);
  const nodes = topoSort(graph);
  const inits = initializerMap(graph);
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) if (o) producer.set(o, i);
  });
  const cutOf = new Map<string, number>();
  cuts.forEach((tensors, k) => {
    if (tensors.length === 0) throw new InvalidCutError(`cuts.${k} names no tensor`, `cuts.${k}`);
    for (const t of tensors) {
      if (!producer.has(t)) {
        throw new InvalidCutError(`cuts.${k}: no node produces tensor "${t}"`, `cuts.${k}`);
      }
      if (cutOf.has(t)) throw new InvalidCutError(`cuts.${k}: "${t}" is in two cuts`, `cuts.${k}`);
      cutOf.set(t, k);
    }
  });
  const stageOfTensor = new Map<string, number>();
  for (const v of runtimeInputs(graph)) stageOfTensor.set(v.name ?? "", 0);
  const stageOfNode: number[] = [];
  const constant = constantNodes(nodes, inits);
  nodes.forEach((n, i) => {
    if (constant.has(n)) {
      stageOfNode[i] = -1; // placed with its consumers
      return;
    }
    let s = 0;
    for (const t of n.input ?? []) {
      const ts = stageOfTensor.get(t);
      if (ts !== undefined) s = Math.max(s, ts);
    }
    stageOfNode[i] = s;
    for (const o of n.output ?? []) {
      if (!o) continue;
      const k = cutOf.get(o);
      if (k !== undefined && s > k) {
        throw new InvalidCutError(
          `cuts.${k}: "${o}" is computed in stage ${s + 1}, after cut ${k + 1}: cuts must be in graph order`,
          `cuts.${k}`,
        );
      }
      stageOfTensor.set(o, k === undefined ? s : k + 1);
    }
  });
  const stageCount = cuts.length + 1;
  const used = new Set(stageOfNode.filter((s) => s >= 0));
  for (let s = 0; s < stageCount; s++) {
    if (!used.has(s)) throw new InvalidCutError(`stage ${s + 1} would have no nodes`);
  }

  const stages: StagePlan[] = Array.from({ length: stageCount }, (_, index) => ({
    index,
    nodes: [],
    inputs: [],
    outputs: [],
    initializers: [],
    paramBytes: 0,
    flops: 0,
  }));
  const graphOutputs = (graph.output ?? []).map((o) => o.name ?? "");
  // Where each tensor is read: stage indices (a graph output counts as read after the last).
  const readers = new Map<string, Set<number>>();
  const read = (t: string, s: number) => {
    const set = readers.get(t) ?? new Set<number>();
    set.add(s);
    readers.set(t, set);
  };
  const constantStages = new Map<number, Set<number>>();
  nodes.forEach((n, i) => {
    const s = stageOfNode[i];
    if (s < 0) return;
    for (const t of n.input ?? []) {
      if (!t) continue;
      read(t, s);
      const p = producer.get(t);
      if (p !== undefined && stageOfNode[p] < 0) {
        const set = constantStages.get(p) ?? new Set<number>();
        set.add(s);
        constantStages.set(p, set);
      }
    }
  });
  for (const t of graphOutputs) read(t, stageCount);
  // A constant computed from other constants needs them in the same stages.
  for (let i = nodes.length - 1; i >= 0; i--) {
    const need = constantStages.get(i);
    if (!need) continue;
    for (const t of nodes[i].input ?? []) {
      const p = producer.get(t);
      if (p === undefined || stageOfNode[p] >= 0) continue;
      const set = constantStages.get(p) ?? new Set<number>();
      for (const x of need) set.add(x);
      constantStages.set(p, set);
    }
  }
  const isInput = new Set(runtimeInputs(graph).map((v) => v.name ?? ""));
  for (const [t, stagesReading] of readers) {
    const p = producer.get(t);
    if (p === undefined && !isInput.has(t)) continue; // an initializer
    if (p !== undefined && stageOfNode[p] < 0) continue; // a constant, copied where it is read
    const home = p === undefined ? 0 : stageOfNode[p];
    const k = cutOf.get(t);
    for (const r of stagesReading) {
      if (r === home) continue;
      // Read later than where it is made: only as the cut right after its stage, by the next one.
      const handedOn = p !== undefined && k === home && r === home + 1;
      const finalOutput = r === stageCount && home === stageCount - 1;
      if (handedOn || finalOutput) continue;
      const where = r === stageCount ? "the graph output" : `stage ${r + 1}`;
      throw new InvalidCutError(
        `tensor "${t}" made in stage ${home + 1} is needed by ${where}: each cut must name every tensor that crosses it, and a tensor may cross only one cut`,
      );
    }
  }
  nodes.forEach((_n, i) => {
    const s = stageOfNode[i];
    if (s >= 0) stages[s].nodes.push(i);
    else for (const t of constantStages.get(i) ?? []) stages[t].nodes.push(i);
  });
  for (const st of stages) st.nodes.sort((a, b) => a - b);
  const shapes = inferShapes(graph, {}, { lenient: true });
  const consts = constantTensors(graph);
  stages.forEach((st, s) => {
    st.inputs = s === 0 ? runtimeInputs(graph).map((v) => v.name ?? "") : [...cuts[s - 1]];
    st.outputs = s === stageCount - 1 ? graphOutputs : [...cuts[s]];
    const inits2 = new Set<string>();
    const weights = new Set<string>();
    for (const i of st.nodes) {
      for (const t of nodes[i].input ?? []) {
        if (inits.has(t)) inits2.add(t);
        if (consts.has(t)) weights.add(t);
      }
      if (stageOfNode[i] >= 0) st.flops += nodeFlops(nodes[i], shapes, consts);
    }
    st.initializers = [...inits2];
    st.paramBytes = [...weights].reduce((b, t) => b + tensorByteSize(consts.get(t) ?? {}), 0);
  });
  return { stages };
}

/** The stage models of a split: each a complete ONNX model that ONNX Runtime loads on its own. */
export function splitModel(
  model: ModelProto,
  cuts: readonly (readonly string[])[],
): { plan: SplitPlan; models: ModelProto[] } {
  const plan = planSplit(model, cuts);
  const graph = requireGraph(model);
  const nodes = topoSort(graph);
  const inits = initializerMap(graph);
  const shapes = inferShapes(graph, {}, { lenient: true });
  const declared = new Map(
    [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])].map((v) => [
      v.name ?? "",
      v,
    ]),
  );
  const io = (name: string) => {
    const d = declared.get(name);
    if (d?.type?.tensorType?.shape) return d;
    const info = shapes.get(name);
    return valueInfo(name, info?.dtype ?? d?.type?.tensorType?.elemType ?? 1, info?.dims);
  };
  const models = plan.stages.map((st) => {
    const m = cloneModel({ ...model, graph: { name: graph.name } });
    const g: GraphProto = {
      name: `${graph.name ?? "main"}_stage${st.index + 1}`,
      node: st.nodes.map((i) => nodes[i]),
      initializer: st.initializers.map((t) => inits.get(t) as TensorProto),
      input: st.inputs.map(io),
      output: st.outputs.map(io),
    };
    m.graph = g;
    // Deep copy, so later rewrites of one stage (quantization) never touch the source model.
    return cloneModel(m);
  });
  return { plan, models };
}

/** A boundary where exactly one tensor is live: the place to cut between two devices. */
export interface CutCandidate {
  tensor: string;
  /** Position in topological order: the cut falls after this many nodes. */
  after: number;
  /** Elements per sample of the tensor (batch axis dropped); undefined when not inferable. */
  elementsPerSample: number | undefined;
  dims: Dim[] | undefined;
  /** Parameter bytes and FLOPs per sample of everything before the cut. */
  paramBytesBefore: number;
  flopsBefore: number;
}

/**
 * Cut points worth considering: after a node, exactly one tensor computed so far is still needed
 * (one activation to send), and the next node is a weighted layer (MatMul/Gemm/Conv with an
 * initializer): the boundaries between the layers of an MLP or a CNN.
 */
export function findCutCandidates(model: ModelProto): {
  candidates: CutCandidate[];
  totalParamBytes: number;
  totalFlops: number;
} {
  const graph = requireGraph(model);
  const nodes = topoSort(graph);
  const inits = initializerMap(graph);
  const consts = constantTensors(graph);
  const shapes = inferShapes(graph, {}, { lenient: true });
  const lastRead = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const t of n.input ?? []) if (t) lastRead.set(t, i);
  });
  for (const o of graph.output ?? []) lastRead.set(o.name ?? "", Number.POSITIVE_INFINITY);
  const live = new Set<string>(runtimeInputs(graph).map((v) => v.name ?? ""));
  const candidates: CutCandidate[] = [];
  let params = 0;
  let flops = 0;
  const counted = new Set<string>();
  const constant = constantNodes(nodes, inits);
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    flops += nodeFlops(n, shapes, consts);
    for (const t of n.input ?? []) {
      if (consts.has(t) && !counted.has(t)) {
        counted.add(t);
        params += tensorByteSize(consts.get(t) as TensorProto);
      }
    }
    // Constants are copied into every stage that reads them: they never cross a cut.
    if (!constant.has(n)) for (const o of n.output ?? []) if (o) live.add(o);
    for (const t of [...live]) if ((lastRead.get(t) ?? -1) <= i) live.delete(t);
    const next = nodes[i + 1];
    if (!next || live.size !== 1 || !isWeighted(next, consts)) continue;
    const [tensor] = live;
    if (runtimeInputs(graph).some((v) => v.name === tensor)) continue;
    const dims = shapes.get(tensor)?.dims;
    const sample = dims?.slice(1);
    const elements = sample?.every((d): d is number => typeof d === "number")
      ? sample.reduce((a, b) => a * b, 1)
      : undefined;
    candidates.push({
      tensor,
      after: i + 1,
      elementsPerSample: elements,
      dims,
      paramBytesBefore: params,
      flopsBefore: flops,
    });
  }
  return { candidates, totalParamBytes: params, totalFlops: flops };
}

function isWeighted(n: NodeProto, inits: Map<string, TensorProto>): boolean {
  return (
    ["MatMul", "Gemm", "Conv"].includes(n.opType ?? "") &&
    (n.input ?? []).slice(1).some((t) => inits.has(t))
  );
}

function numeric(dims: Dim[] | undefined): number[] | undefined {
  return dims?.map((d) => (typeof d === "number" ? d : 1));
}

function nodeFlops(n: NodeProto, shapes: Map<string, TensorInfo>, inits: Map<string, TensorProto>) {
  const op = n.opType ?? "";
  const w = inits.get(n.input?.[1] ?? "");
  const outDims = numeric(shapes.get(n.output?.[0] ?? "")?.dims);
  const perSample = (dims: number[] | undefined) =>
    dims ? dims.slice(1).reduce((a, b) => a * b, 1) : 0;
  if ((op === "MatMul" || op === "Gemm") && w) {
    const d = tensorDims(w);
    if (d.length >= 2) {
      const [a, b] = d.slice(-2);
      const rows =
        outDims && outDims.length > 2 ? outDims.slice(1, -1).reduce((x, y) => x * y, 1) : 1;
      return 2 * a * b * rows;
    }
  }
  if (op === "Conv" && w) {
    const d = tensorDims(w);
    const kernel = d.slice(1).reduce((a, b) => a * b, 1);
    return 2 * kernel * perSample(outDims);
  }
  return perSample(outDims);
}
