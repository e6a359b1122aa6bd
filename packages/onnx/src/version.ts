import { UnsupportedOpError } from "./errors";
import {
  attrInt,
  attrInts,
  findAttr,
  opsetVersion,
  requireIrVersion,
  requireOpset,
  uniqueNamer,
} from "./graph";
import { DataType, type GraphProto, type ModelProto, type NodeProto } from "./proto";
import { inferShapes } from "./shape";
import { makeTensor } from "./tensor";

/**
 * Ops whose signature or meaning changed between opset 9 and 19 in a way this converter
 * rewrites. Every other known op is carried over unchanged (their changes over that span only
 * add types or attributes with defaults that keep the old behaviour).
 */
/** Rewrites the node in place, or returns the nodes that replace it. */
type Upgrader = (
  node: NodeProto,
  from: number,
  to: number,
  add: AddConst,
  rank: RankOf,
) => NodeProto[] | undefined;
type RankOf = (tensor: string) => number | undefined;
type AddConst = (prefix: string, dtype: number, values: number[], scalar?: boolean) => string;

const attrsToInputs =
  (since: number, names: string[], dtype: number, scalar = false): Upgrader =>
  (node, from, to, add) => {
    if (from >= since || to < since) return;
    const inputs = [...(node.input ?? [])];
    for (const name of names) {
      const a = findAttr(node, name);
      if (!a) {
        inputs.push("");
        continue;
      }
      const values = a.ints?.length
        ? a.ints.map(Number)
        : a.f !== undefined && a.f !== null && dtype === DataType.FLOAT
          ? [a.f]
          : [];
      inputs.push(add(`${node.name}_${name}`, dtype, values, scalar));
    }
    while (inputs.length && inputs[inputs.length - 1] === "") inputs.pop();
    node.input = inputs;
    node.attribute = (node.attribute ?? []).filter((a) => !names.includes(a.name ?? ""));
    return undefined;
  };

const softmax: Upgrader = (node, from, to, _add, rank) => {
  if (from >= 13 || to < 13) return;
  const axis = attrInt(node, "axis", 1);
  const r = rank(node.input?.[0] ?? "") ?? rank(node.output?.[0] ?? "");
  if (axis === -1 || (r !== undefined && axis === r - 1)) return;
  // Before 13, softmax flattened [d0..d(axis-1)] x [d(axis)..] and normalized each row: spell
  // that out as Flatten -> Softmax(-1) -> Reshape back to the input's shape.
  const x = node.input?.[0] ?? "";
  const y = node.output?.[0] ?? "";
  const base = node.name || y;
  const shape = `${base}_in_shape`;
  const flat = `${base}_flat`;
  const soft = `${base}_flat_softmax`;
  const dom = node.domain ? { domain: node.domain } : {};
  return [
    { opType: "Shape", input: [x], output: [shape], name: `${base}_shape`, ...dom },
    {
      opType: "Flatten",
      input: [x],
      output: [flat],
      name: `${base}_flatten`,
      attribute: [{ name: "axis", type: 2, i: axis }],
      ...dom,
    },
    { ...node, input: [flat], output: [soft], attribute: [{ name: "axis", type: 2, i: -1 }] },
    { opType: "Reshape", input: [soft, shape], output: [y], name: `${base}_reshape`, ...dom },
  ];
};

const reduce18 = attrsToInputs(18, ["axes"], DataType.INT64);

const UPGRADERS: Record<string, Upgrader> = {
  Clip: attrsToInputs(11, ["min", "max"], DataType.FLOAT, true),
  Slice: (node, from, to, add) => {
    if (from >= 10 || to < 10) return;
    const starts = attrInts(node, "starts") ?? [];
    const ends = attrInts(node, "ends") ?? [];
    const axes = attrInts(node, "axes");
    node.input = [
      ...(node.input ?? []).slice(0, 1),
      add(`${node.name}_starts`, DataType.INT64, starts),
      add(`${node.name}_ends`, DataType.INT64, ends),
      ...(axes ? [add(`${node.name}_axes`, DataType.INT64, axes)] : []),
    ];
    node.attribute = [];
    return undefined;
  },
  Squeeze: attrsToInputs(13, ["axes"], DataType.INT64),
  Unsqueeze: attrsToInputs(13, ["axes"], DataType.INT64),
  ReduceSum: attrsToInputs(13, ["axes"], DataType.INT64),
  ReduceMean: reduce18,
  ReduceMax: reduce18,
  ReduceMin: reduce18,
  ReduceProd: reduce18,
  ReduceL2: reduce18,
  Softmax: softmax,
  LogSoftmax: softmax,
  Resize: (node, from) => {
    if (from < 11)
      throw new UnsupportedOpError(
        "Resize",
        node.name ?? "",
        `opset ${from} Resize cannot be upgraded`,
      );
    return undefined;
  },
  Upsample: (node): undefined => {
    throw new UnsupportedOpError("Upsample", node.name ?? "", "deprecated op");
  },
};

/**
 * Raises the default-domain opset to `target` (9..19), rewriting the ops whose inputs moved
 * from attributes (Clip, Slice, Squeeze/Unsqueeze, Reduce*). Needed before inserting
 * QuantizeLinear/DequantizeLinear with axis (13) or float8 (19) into an old exporter's graph.
 */
export function upgradeOpset(model: ModelProto, target: number): void {
  const from = opsetVersion(model, "") ?? target;
  if (from >= target) return;
  const g = model.graph as GraphProto;
  upgradeGraph(g, from, target);
  requireOpset(model, "", target);
  requireIrVersion(model, target >= 19 ? 9 : target >= 15 ? 8 : 7);
}

function upgradeGraph(g: GraphProto, from: number, to: number): void {
  const fresh = uniqueNamer(g);
  const add: AddConst = (prefix, dtype, values, scalar) => {
    const name = fresh(prefix);
    g.initializer = [
      ...(g.initializer ?? []),
      makeTensor(name, dtype, scalar ? [] : [values.length], values),
    ];
    return name;
  };
  const rank = rankLookup(g);
  g.node = (g.node ?? []).flatMap((node) => {
    if ((node.domain ?? "") !== "" && node.domain !== "ai.onnx") return [node];
    return UPGRADERS[node.opType ?? ""]?.(node, from, to, add, rank) ?? [node];
  });
}

function rankLookup(g: GraphProto): RankOf {
  let shapes: Map<string, { dims?: unknown[] }> = new Map();
  try {
    shapes = inferShapes(g);
  } catch {
    // unknown ops: fall back to declared value infos only
  }
  const declared = new Map(
    [...(g.valueInfo ?? []), ...(g.output ?? []), ...(g.input ?? [])].map((v) => [
      v.name ?? "",
      v.type?.tensorType?.shape?.dim?.length,
    ]),
  );
  return (t) => shapes.get(t)?.dims?.length ?? declared.get(t);
}
