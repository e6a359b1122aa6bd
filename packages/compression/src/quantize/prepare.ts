import {
  attrFloat,
  cloneModel,
  consumerMap,
  DataType,
  inferShapes,
  initializerMap,
  type ModelProto,
  makeNode,
  makeTensor,
  type TensorProto,
  tensorDims,
  tensorToFloat32,
  uniqueNamer,
} from "@edgefleet/onnx";
import { constantsToInitializers, dropUnreadInitializers } from "./weights";

/**
 * A copy ready for quantization: Constant weights become initializers, and 2-D
 * MatMul + bias Add pairs become one Gemm, the pattern ORT fuses into QGemm.
 */
export function prepareForQuantization(model: ModelProto): ModelProto {
  const m = cloneModel(model);
  constantsToInitializers(m);
  foldBatchNorm(m);
  fuseMatMulAdd(m);
  return m;
}

/**
 * Folds inference BatchNormalization into the Conv before it (W' = W*g, b' = (b-mean)*g + beta,
 * g = scale/sqrt(var+eps)) so quantization sees one Conv and ORT a plain QLinearConv.
 */
export function foldBatchNorm(model: ModelProto): number {
  const g = model.graph;
  if (!g) return 0;
  const inits = initializerMap(g);
  const consumers = consumerMap(g);
  const outputs = new Set((g.output ?? []).map((o) => o.name));
  const drop = new Set<object>();
  const fresh = uniqueNamer(g);
  for (const conv of g.node ?? []) {
    if (conv.opType !== "Conv") continue;
    const out = conv.output?.[0] ?? "";
    const use = consumers.get(out) ?? [];
    const bn = use[0];
    if (use.length !== 1 || bn.opType !== "BatchNormalization" || outputs.has(out)) continue;
    if ((bn.output ?? []).filter(Boolean).length !== 1) continue;
    const w = inits.get(conv.input?.[1] ?? "");
    const params = (bn.input ?? []).slice(1, 5).map((n) => inits.get(n));
    if (!w || w.dataType !== DataType.FLOAT || params.some((p) => !p)) continue;
    const [scale, beta, mean, variance] = params.map((p) => tensorToFloat32(p as TensorProto));
    const eps = attrFloat(bn, "epsilon", 1e-5);
    const wd = tensorDims(w);
    const wf = tensorToFloat32(w);
    const per = wf.length / wd[0];
    const bias = conv.input?.[2]
      ? tensorToFloat32(inits.get(conv.input[2]) ?? {})
      : new Float32Array(wd[0]);
    const gain = Float32Array.from(scale, (s, c) => s / Math.sqrt(variance[c] + eps));
    for (let i = 0; i < wf.length; i++) wf[i] *= gain[Math.floor(i / per)];
    const nb = Float32Array.from(gain, (k, c) => (bias[c] - mean[c]) * k + beta[c]);
    const wn = fresh(`${w.name}_bnfolded`);
    const bnName = fresh(`${w.name}_bias_bnfolded`);
    g.initializer?.push(
      makeTensor(wn, DataType.FLOAT, wd, wf),
      makeTensor(bnName, DataType.FLOAT, [wd[0]], nb),
    );
    conv.input = [conv.input?.[0] ?? "", wn, bnName];
    conv.output = [bn.output?.[0] ?? ""];
    drop.add(bn);
  }
  g.node = (g.node ?? []).filter((n) => !drop.has(n));
  if (drop.size) dropUnreadInitializers(g);
  return drop.size;
}

export function fuseMatMulAdd(model: ModelProto): number {
  const g = model.graph;
  if (!g) return 0;
  let shapes: ReturnType<typeof inferShapes>;
  try {
    shapes = inferShapes(g);
  } catch {
    return 0; // ops we cannot follow: leave the graph as it is
  }
  const inits = initializerMap(g);
  const consumers = consumerMap(g);
  const outputs = new Set((g.output ?? []).map((o) => o.name));
  const replaced = new Map<object, ReturnType<typeof makeNode> | null>();
  for (const mm of g.node ?? []) {
    if (mm.opType !== "MatMul" || (mm.domain ?? "") !== "") continue;
    const [x, wName] = mm.input ?? [];
    const w = inits.get(wName);
    const out = mm.output?.[0] ?? "";
    const use = consumers.get(out) ?? [];
    if (!w || w.dataType !== DataType.FLOAT || tensorDims(w).length !== 2) continue;
    if (shapes.get(x)?.dims?.length !== 2 || use.length !== 1 || outputs.has(out)) continue;
    const add = use[0];
    if (add.opType !== "Add") continue;
    const biasName = add.input?.[0] === out ? add.input?.[1] : add.input?.[0];
    const bias = inits.get(biasName ?? "");
    if (!bias || tensorDims(bias).length !== 1 || tensorDims(bias)[0] !== tensorDims(w)[1])
      continue;
    replaced.set(
      mm,
      makeNode("Gemm", [x, wName, biasName ?? ""], add.output ?? [], { name: `${mm.name}_gemm` }),
    );
    replaced.set(add, null);
  }
  g.node = (g.node ?? []).flatMap((n) => {
    if (!replaced.has(n)) return [n];
    const r = replaced.get(n);
    return r ? [r] : [];
  });
  return [...replaced.values()].filter(Boolean).length;
}
