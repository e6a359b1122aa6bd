import {
  attrInt,
  cloneModel,
  DataType,
  type GraphProto,
  inferShapes,
  type ModelProto,
  makeNode,
  makeTensor,
  type NodeProto,
  setAttr,
  type TensorProto,
  tensorDims,
  tensorToFloat32,
  topoSort,
  uniqueNamer,
} from "@edgefleet/onnx";
import { foldBatchNorm } from "./prepare";
import { constantsToInitializers } from "./weights";

/** Inputs that ONNX requires to stay float32 whatever the compute type (Resize roi/scales). */
const FLOAT32_ONLY_INPUTS: Record<string, number[]> = { Resize: [1, 2], Upsample: [1] };

/** Largest finite float16. Tensors beyond it stay float32 (BatchNorm variances reach 1e8). */
const FLOAT16_MAX = 65504;

function fitsHalf(t: TensorProto): boolean {
  for (const v of tensorToFloat32(t)) if (Math.abs(v) > FLOAT16_MAX) return false;
  return true;
}

function toHalf(t: TensorProto, name: string): TensorProto {
  return makeTensor(name, DataType.FLOAT16, tensorDims(t), tensorToFloat32(t));
}

/**
 * fp16 weights only: float initializers stored as float16, each behind a Cast to float that
 * ORT folds at load. Half the bytes; compute (and so speed and most accuracy) stays fp32.
 */
export function toFp16Weights(model: ModelProto): ModelProto {
  const m = cloneModel(model);
  constantsToInitializers(m);
  foldBatchNorm(m);
  const g = m.graph as GraphProto;
  const fresh = uniqueNamer(g);
  const casts: NodeProto[] = [];
  g.initializer = (g.initializer ?? []).map((t) => {
    if (t.dataType !== DataType.FLOAT || tensorDims(t).reduce((a, b) => a * b, 1) < 16) return t;
    if (!fitsHalf(t)) return t;
    const half = fresh(`${t.name}_fp16`);
    casts.push(
      makeNode("Cast", [half], [t.name ?? ""], {
        name: fresh(`${t.name}_Cast`),
        attrs: { to: DataType.FLOAT },
      }),
    );
    return toHalf(t, half);
  });
  g.node = [...casts, ...(g.node ?? [])];
  return m;
}

/**
 * fp16 compute: every float tensor becomes float16; graph inputs and outputs stay float32
 * through Casts. Nodes whose op is in `keepFloat32Ops` (no fp16 kernel on the target) run in
 * float32 between Casts.
 */
export function toFp16Full(model: ModelProto, keepFloat32Ops: readonly string[] = []): ModelProto {
  const m = cloneModel(model);
  constantsToInitializers(m);
  foldBatchNorm(m);
  const g = m.graph as GraphProto;
  const types = inferShapes(g);
  // Unknown dtypes (ops whose output type this code does not track) count as float.
  const isFloat = (name: string) => (types.get(name)?.dtype ?? DataType.FLOAT) === DataType.FLOAT;
  const fresh = uniqueNamer(g);
  const keep = new Set(keepFloat32Ops);
  const float32Consts = new Set<string>();
  const wide = new Set(
    (g.initializer ?? [])
      .filter((t) => t.dataType === DataType.FLOAT && !fitsHalf(t))
      .map((t) => t.name ?? ""),
  );
  // A node reading a constant beyond the float16 range runs in float32 between Casts.
  const blockedNodes = new Set(
    (g.node ?? []).filter(
      (n) => keep.has(n.opType ?? "") || (n.input ?? []).some((i) => wide.has(i)),
    ),
  );
  for (const n of g.node ?? []) {
    for (const i of FLOAT32_ONLY_INPUTS[n.opType ?? ""] ?? [])
      float32Consts.add(n.input?.[i] ?? "");
    if (blockedNodes.has(n)) for (const i of n.input ?? []) float32Consts.add(i);
  }
  g.initializer = (g.initializer ?? []).map((t) =>
    t.dataType === DataType.FLOAT && !float32Consts.has(t.name ?? "") ? toHalf(t, t.name ?? "") : t,
  );
  const initNames = new Set((g.initializer ?? []).map((t) => t.name ?? ""));
  const halfInits = new Set(
    (g.initializer ?? []).filter((t) => t.dataType === DataType.FLOAT16).map((t) => t.name),
  );
  const pre: NodeProto[] = [];
  const rename = new Map<string, string>();
  for (const v of g.input ?? []) {
    if (v.type?.tensorType?.elemType !== DataType.FLOAT || halfInits.has(v.name)) continue;
    const h = fresh(`${v.name}_fp16`);
    pre.push(
      makeNode("Cast", [v.name ?? ""], [h], {
        name: fresh(`${v.name}_Cast`),
        attrs: { to: DataType.FLOAT16 },
      }),
    );
    rename.set(v.name ?? "", h);
  }
  const outputs = new Set(
    (g.output ?? [])
      .filter((o) => o.type?.tensorType?.elemType === DataType.FLOAT)
      .map((o) => o.name ?? ""),
  );
  const body: NodeProto[] = [];
  const post: NodeProto[] = [];
  for (const n of topoSort(g)) {
    n.input = (n.input ?? []).map((i) => rename.get(i) ?? i);
    if (n.opType === "Cast" && attrInt(n, "to", 0) === DataType.FLOAT)
      setAttr(n, "to", DataType.FLOAT16);
    const blocked = blockedNodes.has(n);
    if (blocked) {
      n.input = n.input.map((i) => {
        if (!i || !isFloat(originalName(i, rename)) || initNames.has(i)) return i;
        const f = fresh(`${i}_fp32`);
        body.push(
          makeNode("Cast", [i], [f], { name: fresh(`${i}_Cast32`), attrs: { to: DataType.FLOAT } }),
        );
        return f;
      });
    }
    n.output = (n.output ?? []).map((o) => {
      const needsCast = blocked ? isFloat(o) : false;
      if (outputs.has(o) && !blocked) {
        const h = fresh(`${o}_fp16`);
        post.push(
          makeNode("Cast", [h], [o], { name: fresh(`${o}_Cast`), attrs: { to: DataType.FLOAT } }),
        );
        rename.set(o, h);
        return h;
      }
      if (needsCast && !outputs.has(o)) {
        const f = fresh(`${o}_fp32`);
        body.push(
          makeNode("Cast", [f], [o], {
            name: fresh(`${o}_Cast16`),
            attrs: { to: DataType.FLOAT16 },
          }),
        );
        return f;
      }
      return o;
    });
    body.push(n);
  }
  // Nodes after a renamed output read the fp16 twin.
  for (const n of body) n.input = (n.input ?? []).map((i) => rename.get(i) ?? i);
  g.node = [...pre, ...body, ...post];
  g.valueInfo = [];
  g.node = topoSort(g);
  return m;
}

function originalName(name: string, rename: Map<string, string>): string {
  for (const [k, v] of rename) if (v === name) return k;
  return name;
}
