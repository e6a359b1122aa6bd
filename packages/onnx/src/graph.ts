import { type AttrValue, makeAttribute } from "./builder";
import { InvalidModelError } from "./errors";
import {
  type AttributeProto,
  AttributeType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  toNumber,
} from "./proto";

export function requireGraph(model: ModelProto): GraphProto {
  if (!model.graph) throw new InvalidModelError("model has no graph");
  return model.graph;
}

export function findAttr(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = findAttr(node, name);
  return a ? toNumber(a.i) : fallback;
}

export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  const a = findAttr(node, name);
  return a?.f ?? fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = findAttr(node, name);
  return a ? (a.ints ?? []).map(toNumber) : undefined;
}

export function attrString(node: NodeProto, name: string): string | undefined {
  const a = findAttr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : undefined;
}

/** Decoded value of any attribute kind, for generic dumps and tests. */
export function attrValue(a: AttributeProto): unknown {
  switch (a.type) {
    case AttributeType.FLOAT:
      return a.f;
    case AttributeType.INT:
      return toNumber(a.i);
    case AttributeType.STRING:
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    case AttributeType.FLOATS:
      return a.floats ?? [];
    case AttributeType.INTS:
      return (a.ints ?? []).map(toNumber);
    case AttributeType.TENSOR:
      return a.t;
    default:
      return undefined;
  }
}

export function setAttr(node: NodeProto, name: string, value: AttrValue): void {
  const rest = (node.attribute ?? []).filter((a) => a.name !== name);
  node.attribute = [...rest, makeAttribute(name, value)];
}

export function initializerMap(graph: GraphProto): Map<string, TensorProto> {
  return new Map((graph.initializer ?? []).map((t) => [t.name ?? "", t]));
}

export function producerMap(graph: GraphProto): Map<string, NodeProto> {
  const m = new Map<string, NodeProto>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) if (o) m.set(o, n);
  return m;
}

export function consumerMap(graph: GraphProto): Map<string, NodeProto[]> {
  const m = new Map<string, NodeProto[]>();
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) {
      if (!i) continue;
      const list = m.get(i) ?? [];
      list.push(n);
      m.set(i, list);
    }
  }
  return m;
}

/** Graph inputs that are fed at run time (old exporters also list initializers as inputs). */
export function runtimeInputs(graph: GraphProto) {
  const inits = initializerMap(graph);
  return (graph.input ?? []).filter((v) => !inits.has(v.name ?? ""));
}

/** Nodes in an order where every input is produced before it is used. */
export function topoSort(graph: GraphProto): NodeProto[] {
  const nodes = graph.node ?? [];
  const available = new Set<string>([
    ...(graph.input ?? []).map((v) => v.name ?? ""),
    ...(graph.initializer ?? []).map((t) => t.name ?? ""),
    "",
  ]);
  const done = new Set<NodeProto>();
  const order: NodeProto[] = [];
  let progress = true;
  while (order.length < nodes.length && progress) {
    progress = false;
    for (const n of nodes) {
      if (done.has(n) || !(n.input ?? []).every((i) => available.has(i))) continue;
      done.add(n);
      order.push(n);
      for (const o of n.output ?? []) available.add(o);
      progress = true;
    }
  }
  if (order.length < nodes.length) {
    const stuck = nodes.find((n) => !done.has(n));
    throw new InvalidModelError(
      `graph has a cycle or a dangling input at node "${stuck?.name}" (${stuck?.opType})`,
    );
  }
  return order;
}

export function opsetVersion(model: ModelProto, domain = ""): number | undefined {
  const norm = (d: string | null | undefined) => (d === "ai.onnx" ? "" : (d ?? ""));
  const entry = (model.opsetImport ?? []).find((o) => norm(o.domain) === norm(domain));
  return entry ? toNumber(entry.version) : undefined;
}

/** Raises (never lowers) the opset of a domain, adding the import if missing. */
export function requireOpset(model: ModelProto, domain: string, version: number): void {
  const imports = model.opsetImport ?? [];
  const norm = (d: string | null | undefined) => (d === "ai.onnx" ? "" : (d ?? ""));
  const entry = imports.find((o) => norm(o.domain) === norm(domain));
  if (!entry) imports.push({ domain, version });
  else if (toNumber(entry.version) < version) entry.version = version;
  model.opsetImport = imports;
}

export function requireIrVersion(model: ModelProto, version: number): void {
  if (toNumber(model.irVersion) < version) model.irVersion = version;
}

/** A generator of names unused by any tensor or node of the graph. */
export function uniqueNamer(graph: GraphProto): (prefix: string) => string {
  const used = new Set<string>();
  for (const n of graph.node ?? []) {
    used.add(n.name ?? "");
    for (const t of [...(n.input ?? []), ...(n.output ?? [])]) used.add(t);
  }
  for (const t of graph.initializer ?? []) used.add(t.name ?? "");
  for (const v of [...(graph.input ?? []), ...(graph.output ?? [])]) used.add(v.name ?? "");
  return (prefix) => {
    let name = prefix;
    for (let i = 1; used.has(name); i++) name = `${prefix}_${i}`;
    used.add(name);
    return name;
  };
}

/** Replaces each node by what `fn` returns (undefined keeps it); the order is kept. */
export function rewriteNodes(
  graph: GraphProto,
  fn: (node: NodeProto) => NodeProto[] | undefined,
): void {
  graph.node = (graph.node ?? []).flatMap((n) => fn(n) ?? [n]);
}

/** Drops nodes and initializers whose results no graph output needs. */
export function pruneUnused(graph: GraphProto): void {
  const needed = new Set((graph.output ?? []).map((v) => v.name ?? ""));
  const keep: NodeProto[] = [];
  for (const n of [...topoSort(graph)].reverse()) {
    if (!(n.output ?? []).some((o) => needed.has(o))) continue;
    keep.push(n);
    for (const i of n.input ?? []) needed.add(i);
  }
  const kept = new Set(keep);
  graph.node = (graph.node ?? []).filter((n) => kept.has(n));
  graph.initializer = (graph.initializer ?? []).filter((t) => needed.has(t.name ?? ""));
}

/** Count of nodes per op type ("com.microsoft:MatMulNBits" for non-default domains). */
export function opHistogram(graph: GraphProto): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of graph.node ?? []) {
    const key = n.domain && n.domain !== "ai.onnx" ? `${n.domain}:${n.opType}` : (n.opType ?? "");
    h[key] = (h[key] ?? 0) + 1;
  }
  return h;
}
