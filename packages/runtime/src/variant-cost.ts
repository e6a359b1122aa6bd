import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  attrInt,
  DataType,
  decodeModel,
  type GraphProto,
  initializerMap,
  type NodeProto,
  requireGraph,
  type TensorProto,
  tensorByteSize,
  tensorDims,
} from "@edgefleet/onnx";
import type { KernelType } from "./microbench";
import { createSession } from "./session";

/**
 * A variant's cost as ONNX Runtime will execute it: read from the graph ORT writes after its
 * optimisations (fusions, folded weight-only dequantisation), not from the graph as shipped.
 * Matches the cost fields of @edgefleet/planner's VariantCost.
 */
export interface VariantCostFacts {
  /** Multiply-add FLOPs (x2) per sample, by the kernel type that executes them. */
  flops: Partial<Record<KernelType, number>>;
  /** Nodes ORT runs per inference. */
  opCount: number;
  /** Largest matmul input + output per sample, in float32 bytes. */
  activationBytes: number;
  /** Bytes of the initializers the optimised graph holds (what stays resident and is read). */
  runtimeWeightBytes: number;
  /** Optimised op histogram ("com.microsoft:QGemm": 3), for people reading the cost. */
  optimizedOps: Record<string, number>;
}

/** Weight input index per matmul-like op; the weight's dtype decides the kernel type. */
const WEIGHT_INPUT: Record<string, number> = {
  MatMul: 1,
  Gemm: 1,
  FusedGemm: 1,
  FusedMatMul: 1,
  MatMulInteger: 1,
  MatMulIntegerToFloat: 1,
  DynamicQuantizeMatMul: 1,
  QLinearMatMul: 3,
  QGemm: 3,
};

function kernelOf(dtype: number | undefined): KernelType {
  if (dtype === DataType.FLOAT16) return "fp16";
  if (dtype === DataType.INT8 || dtype === DataType.UINT8) return "int8";
  if (dtype === DataType.INT4 || dtype === DataType.UINT4) return "int4";
  return "fp32";
}

/** K x N of a matmul's weight, honouring Gemm's transB. */
function weightShape(node: NodeProto, w: TensorProto): [number, number] | undefined {
  const d = tensorDims(w);
  if (d.length < 2) return undefined;
  const [a, b] = d.slice(-2);
  const transposed =
    (node.opType === "Gemm" || node.opType === "FusedGemm" || node.opType === "QGemm") &&
    attrInt(node, "transB", 0) === 1;
  return transposed ? [b, a] : [a, b];
}

export function costFromGraph(graph: GraphProto): VariantCostFacts {
  const inits = initializerMap(graph);
  const flops: Partial<Record<KernelType, number>> = {};
  const optimizedOps: Record<string, number> = {};
  let activation = 0;
  const add = (k: KernelType, f: number) => {
    flops[k] = (flops[k] ?? 0) + f;
  };
  for (const node of graph.node ?? []) {
    const op = node.opType ?? "";
    const key = node.domain ? `${node.domain}:${op}` : op;
    optimizedOps[key] = (optimizedOps[key] ?? 0) + 1;
    let kn: [number, number] | undefined;
    let kernel: KernelType = "fp32";
    if (op === "MatMulNBits") {
      kn = [attrInt(node, "K", 0), attrInt(node, "N", 0)];
      kernel = "int4";
    } else if (op in WEIGHT_INPUT) {
      const w = inits.get(node.input?.[WEIGHT_INPUT[op]] ?? "");
      if (w) {
        kn = weightShape(node, w);
        kernel = kernelOf(w.dataType ?? undefined);
      }
    }
    if (!kn) continue;
    add(kernel, 2 * kn[0] * kn[1]);
    activation = Math.max(activation, (kn[0] + kn[1]) * 4);
  }
  let weights = 0;
  for (const t of inits.values()) weights += tensorByteSize(t);
  return {
    flops,
    opCount: graph.node?.length ?? 0,
    activationBytes: activation,
    runtimeWeightBytes: weights,
    optimizedOps,
  };
}

/** Lets ORT optimise the model as it would serve it, and reads the cost off the result. */
export async function analyzeVariant(
  modelBytes: Uint8Array,
  options: { disableQuantQdq?: boolean; threads?: number } = {},
): Promise<VariantCostFacts> {
  const dir = await mkdtemp(join(tmpdir(), "ef-cost-"));
  try {
    const optimizedModelFilePath = join(dir, "optimized.onnx");
    const session = await createSession(modelBytes, { ...options, optimizedModelFilePath });
    await session.release();
    return costFromGraph(requireGraph(decodeModel(await readFile(optimizedModelFilePath))));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
