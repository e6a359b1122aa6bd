import type { Dim } from "./builder";
import { UnsupportedOpError } from "./errors";
import { attrInt, attrInts, initializerMap, runtimeInputs, topoSort } from "./graph";
import { DataType, type GraphProto, type NodeProto, type TensorProto, toNumber } from "./proto";
import { tensorDims, tensorToIntegers } from "./tensor";

export interface TensorInfo {
  dtype: number;
  /** A number, a symbolic name ("N"), or "?" when it cannot be known before running. */
  dims: Dim[] | undefined;
}

type Ctx = {
  node: NodeProto;
  in: (i: number) => TensorInfo | undefined;
  constant: (i: number) => number[] | undefined;
};
type Rule = (c: Ctx) => TensorInfo[];

const UNKNOWN = "?";
const same: Rule = (c) => [c.in(0) ?? { dtype: DataType.FLOAT, dims: undefined }];

function broadcast(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b) return undefined;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    out.push(x === 1 ? y : y === 1 ? x : typeof x === "number" ? x : y);
  }
  return out;
}

const elementwise: Rule = (c) => {
  let dims = c.in(0)?.dims;
  for (let i = 1; i < (c.node.input ?? []).length; i++) dims = broadcast(dims, c.in(i)?.dims);
  return [{ dtype: c.in(0)?.dtype ?? DataType.FLOAT, dims }];
};

const matmul: Rule = (c) => {
  const a = c.in(0)?.dims;
  const b = c.in(1)?.dims;
  const dtype = c.in(0)?.dtype ?? DataType.FLOAT;
  if (!a || !b) return [{ dtype, dims: undefined }];
  const batch = broadcast(a.slice(0, -2), b.slice(0, -2)) ?? [];
  let dims: Dim[];
  if (b.length === 1) dims = a.slice(0, -1);
  else if (a.length === 1) dims = [...batch, b[b.length - 1]];
  else dims = [...batch, a[a.length - 2], b[b.length - 1]];
  return [{ dtype, dims }];
};

function windowed(size: Dim, k: number, stride: number, pad: number, dil: number, ceil = 0): Dim {
  if (typeof size !== "number") return UNKNOWN;
  const eff = (k - 1) * dil + 1;
  const f = ceil ? Math.ceil : Math.floor;
  return f((size + pad - eff) / stride) + 1;
}

function spatial(c: Ctx, kernel: number[], channels: Dim): TensorInfo[] {
  const x = c.in(0)?.dims;
  if (!x) return [{ dtype: DataType.FLOAT, dims: undefined }];
  const nsp = x.length - 2;
  const strides = attrInts(c.node, "strides") ?? Array(nsp).fill(1);
  const dil = attrInts(c.node, "dilations") ?? Array(nsp).fill(1);
  const pads = attrInts(c.node, "pads") ?? Array(2 * nsp).fill(0);
  const autoPad = c.node.attribute?.find((a) => a.name === "auto_pad");
  const padMode = autoPad?.s ? new TextDecoder().decode(autoPad.s) : "NOTSET";
  const ceil = attrInt(c.node, "ceil_mode", 0);
  const dims: Dim[] = [x[0], channels];
  for (let i = 0; i < nsp; i++) {
    const s = x[2 + i];
    if (padMode === "SAME_UPPER" || padMode === "SAME_LOWER") {
      dims.push(typeof s === "number" ? Math.ceil(s / strides[i]) : UNKNOWN);
    } else {
      dims.push(windowed(s, kernel[i], strides[i], pads[i] + pads[i + nsp], dil[i], ceil));
    }
  }
  return [{ dtype: c.in(0)?.dtype ?? DataType.FLOAT, dims }];
}

const conv: Rule = (c) => {
  const w = c.in(1)?.dims;
  if (!w) return [{ dtype: DataType.FLOAT, dims: undefined }];
  const kernel = attrInts(c.node, "kernel_shape") ?? (w.slice(2) as number[]);
  return spatial(c, kernel, w[0]);
};

const pool: Rule = (c) =>
  spatial(c, attrInts(c.node, "kernel_shape") ?? [], c.in(0)?.dims?.[1] ?? UNKNOWN);

const globalPool: Rule = (c) => {
  const x = c.in(0)?.dims;
  return [
    {
      dtype: c.in(0)?.dtype ?? DataType.FLOAT,
      dims: x ? [x[0], x[1], ...x.slice(2).map(() => 1)] : undefined,
    },
  ];
};

function product(dims: Dim[]): Dim {
  return dims.reduce<Dim>(
    (p, d) => (typeof p === "number" && typeof d === "number" ? p * d : UNKNOWN),
    1,
  );
}

const flatten: Rule = (c) => {
  const x = c.in(0)?.dims;
  if (!x) return [{ dtype: DataType.FLOAT, dims: undefined }];
  let axis = attrInt(c.node, "axis", 1);
  if (axis < 0) axis += x.length;
  return [
    {
      dtype: c.in(0)?.dtype ?? DataType.FLOAT,
      dims: [product(x.slice(0, axis)), product(x.slice(axis))],
    },
  ];
};

const reshape: Rule = (c) => {
  const x = c.in(0)?.dims;
  const target = c.constant(1);
  const dtype = c.in(0)?.dtype ?? DataType.FLOAT;
  if (!target) return [{ dtype, dims: undefined }];
  const dims: Dim[] = target.map((d, i) => (d === 0 && x ? x[i] : d));
  const minus = dims.indexOf(-1);
  if (minus >= 0) {
    const total = x ? product(x) : UNKNOWN;
    const rest = product(dims.filter((_, i) => i !== minus));
    dims[minus] =
      typeof total === "number" && typeof rest === "number" ? total / rest : (x?.[0] ?? UNKNOWN);
  }
  return [{ dtype, dims }];
};

const gemm: Rule = (c) => {
  const a = c.in(0)?.dims;
  const b = c.in(1)?.dims;
  const ta = attrInt(c.node, "transA", 0);
  const tb = attrInt(c.node, "transB", 0);
  const dtype = c.in(0)?.dtype ?? DataType.FLOAT;
  if (!a || !b) return [{ dtype, dims: undefined }];
  return [{ dtype, dims: [ta ? a[1] : a[0], tb ? b[0] : b[1]] }];
};

const transpose: Rule = (c) => {
  const x = c.in(0)?.dims;
  if (!x) return same(c);
  const perm = attrInts(c.node, "perm") ?? x.map((_, i) => x.length - 1 - i);
  return [{ dtype: c.in(0)?.dtype ?? DataType.FLOAT, dims: perm.map((p) => x[p]) }];
};

const concat: Rule = (c) => {
  const parts = (c.node.input ?? []).map((_, i) => c.in(i)?.dims);
  const first = parts[0];
  if (!first || parts.some((p) => !p))
    return [{ dtype: c.in(0)?.dtype ?? DataType.FLOAT, dims: undefined }];
  let axis = attrInt(c.node, "axis", 0);
  if (axis < 0) axis += first.length;
  const dims = [...first];
  dims[axis] = parts.reduce<Dim>((s, p) => {
    const d = (p as Dim[])[axis];
    return typeof s === "number" && typeof d === "number" ? s + d : UNKNOWN;
  }, 0);
  return [{ dtype: c.in(0)?.dtype ?? DataType.FLOAT, dims }];
};

const cast: Rule = (c) => [{ dtype: attrInt(c.node, "to", DataType.FLOAT), dims: c.in(0)?.dims }];

const unknownShape =
  (dtype: number): Rule =>
  () => [{ dtype, dims: undefined }];
const unknownSameType: Rule = (c) => [{ dtype: c.in(0)?.dtype ?? DataType.FLOAT, dims: undefined }];

const dequant: Rule = (c) => [{ dtype: c.in(1)?.dtype ?? DataType.FLOAT, dims: c.in(0)?.dims }];
const quant: Rule = (c) => [{ dtype: c.in(2)?.dtype ?? DataType.UINT8, dims: c.in(0)?.dims }];

const matmulNBits: Rule = (c) => {
  const a = c.in(0)?.dims;
  const n = attrInt(c.node, "N", 0);
  return [
    { dtype: c.in(0)?.dtype ?? DataType.FLOAT, dims: a ? [...a.slice(0, -1), n] : undefined },
  ];
};

const dynamicQuantize: Rule = (c) => [
  { dtype: DataType.UINT8, dims: c.in(0)?.dims },
  { dtype: DataType.FLOAT, dims: [] },
  { dtype: DataType.UINT8, dims: [] },
];

/** Ops the compression engine understands, keyed "domain:op" ("" = ai.onnx). */
const RULES: Record<string, Rule> = {
  ":MatMul": matmul,
  ":Gemm": gemm,
  ":MatMulInteger": (c) => [{ dtype: DataType.INT32, dims: matmul(c)[0].dims }],
  ":Add": elementwise,
  ":Sub": elementwise,
  ":Mul": elementwise,
  ":Div": elementwise,
  ":Pow": elementwise,
  ":Relu": same,
  ":LeakyRelu": same,
  ":Sigmoid": same,
  ":Tanh": same,
  ":Clip": same,
  ":HardSigmoid": same,
  ":HardSwish": same,
  ":Sqrt": same,
  ":Exp": same,
  ":Erf": same,
  ":Neg": same,
  ":Abs": same,
  ":Softmax": same,
  ":LogSoftmax": same,
  ":Identity": same,
  ":Dropout": same,
  ":BatchNormalization": same,
  ":Cast": cast,
  ":Conv": conv,
  ":ConvInteger": (c) => [{ dtype: DataType.INT32, dims: conv(c)[0].dims }],
  ":ConvTranspose": unknownSameType,
  ":MaxPool": pool,
  ":AveragePool": pool,
  ":GlobalAveragePool": globalPool,
  ":GlobalMaxPool": globalPool,
  ":Flatten": flatten,
  ":Reshape": reshape,
  ":Transpose": transpose,
  ":Concat": concat,
  ":Constant": unknownShape(DataType.FLOAT),
  ":Shape": unknownShape(DataType.INT64),
  ":Slice": unknownSameType,
  ":Squeeze": unknownSameType,
  ":Unsqueeze": unknownSameType,
  ":Gather": unknownSameType,
  ":ReduceMean": unknownSameType,
  ":Resize": unknownSameType,
  ":QuantizeLinear": quant,
  ":DequantizeLinear": dequant,
  ":DynamicQuantizeLinear": dynamicQuantize,
  "com.microsoft:MatMulNBits": matmulNBits,
  "com.microsoft:DynamicQuantizeMatMul": matmul,
};

export function isSupportedOp(opType: string, domain = ""): boolean {
  return `${domain === "ai.onnx" ? "" : domain}:${opType}` in RULES;
}

/** Throws UnsupportedOpError for the first node whose op the engine does not know. */
export function assertSupportedOps(graph: GraphProto): void {
  for (const n of graph.node ?? []) {
    if (!isSupportedOp(n.opType ?? "", n.domain ?? "")) {
      throw new UnsupportedOpError(`${n.domain ? `${n.domain}:` : ""}${n.opType}`, n.name ?? "");
    }
  }
}

function valueInfoDims(v: {
  type?: {
    tensorType?: {
      shape?: { dim?: { dimValue?: unknown; dimParam?: string | null }[] | null } | null;
    } | null;
  } | null;
}): Dim[] | undefined {
  const dim = v.type?.tensorType?.shape?.dim;
  if (!dim) return undefined;
  return dim.map((d) =>
    d.dimParam ? d.dimParam : d.dimValue != null ? toNumber(d.dimValue) : UNKNOWN,
  );
}

/**
 * Static shapes of every tensor, given the graph's declared input shapes (override them with
 * `inputDims`, e.g. to fix the batch). Data-dependent shapes come back as undefined or "?".
 * Unknown ops throw UnsupportedOpError unless `lenient`.
 */
export function inferShapes(
  graph: GraphProto,
  inputDims: Record<string, Dim[]> = {},
  options: { lenient?: boolean } = {},
): Map<string, TensorInfo> {
  const info = new Map<string, TensorInfo>();
  const inits = initializerMap(graph);
  const constants = new Map<string, TensorProto>(inits);
  for (const t of inits.values())
    info.set(t.name ?? "", { dtype: t.dataType ?? 1, dims: tensorDims(t) });
  for (const v of runtimeInputs(graph)) {
    const name = v.name ?? "";
    info.set(name, {
      dtype: v.type?.tensorType?.elemType ?? DataType.FLOAT,
      dims: inputDims[name] ?? valueInfoDims(v),
    });
  }
  for (const node of topoSort(graph)) {
    const rule = RULES[`${node.domain === "ai.onnx" ? "" : (node.domain ?? "")}:${node.opType}`];
    if (!rule) {
      // lenient: outputs of unknown ops stay unknown instead of failing the whole graph
      if (options.lenient) continue;
      throw new UnsupportedOpError(node.opType ?? "", node.name ?? "");
    }
    if (node.opType === "Constant") {
      const t = node.attribute?.find((a) => a.name === "value")?.t;
      if (t) {
        constants.set(node.output?.[0] ?? "", t);
        info.set(node.output?.[0] ?? "", { dtype: t.dataType ?? 1, dims: tensorDims(t) });
        continue;
      }
    }
    const ins = node.input ?? [];
    const outs = rule({
      node,
      in: (i) => (ins[i] ? info.get(ins[i]) : undefined),
      constant: (i) => {
        const t = ins[i] ? constants.get(ins[i]) : undefined;
        return t ? tensorToIntegers(t) : undefined;
      },
    });
    (node.output ?? []).forEach((o, i) => {
      if (o && outs[i]) info.set(o, outs[i]);
    });
  }
  return info;
}
