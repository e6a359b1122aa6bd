import { createHash } from "node:crypto";
import {
  attrInt,
  DataType,
  elementCount,
  type GraphProto,
  initializerMap,
  type NodeProto,
  tensorDims,
} from "@edgefleet/onnx";

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function softmaxRow(logits: Float32Array, off: number, k: number): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < k; j++) max = Math.max(max, logits[off + j]);
  const p = new Float64Array(k);
  let sum = 0;
  for (let j = 0; j < k; j++) {
    p[j] = Math.exp(logits[off + j] - max);
    sum += p[j];
  }
  for (let j = 0; j < k; j++) p[j] /= sum;
  return p;
}

function argmax(a: Float32Array, off: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (a[off + j] > a[off + best]) best = j;
  return best;
}

export function accuracyOfLogits(logits: Float32Array, labels: Uint8Array, n: number, k: number) {
  let ok = 0;
  for (let i = 0; i < n; i++) if (argmax(logits, i * k, k) === labels[i]) ok++;
  return n ? ok / n : 0;
}

export interface Fidelity {
  /** share of rows whose argmax equals the base model's */
  top1Agreement: number;
  /** mean over rows of KL(softmax(base) || softmax(variant)), in nats */
  meanKl: number;
}

/**
 * Agreement of a variant with its base on the same inputs. `logits` says whether rows are raw
 * scores (softmax applied) or already probabilities (models that end in Softmax).
 */
export function fidelity(
  base: Float32Array,
  variant: Float32Array,
  n: number,
  k: number,
  logits = true,
): Fidelity {
  let agree = 0;
  let kl = 0;
  for (let i = 0; i < n; i++) {
    const off = i * k;
    if (argmax(base, off, k) === argmax(variant, off, k)) agree++;
    const p = logits ? softmaxRow(base, off, k) : Float64Array.from(base.subarray(off, off + k));
    const q = logits
      ? softmaxRow(variant, off, k)
      : Float64Array.from(variant.subarray(off, off + k));
    for (let j = 0; j < k; j++) {
      if (p[j] > 0) kl += p[j] * Math.log(p[j] / Math.max(q[j], 1e-12));
    }
  }
  return { top1Agreement: n ? agree / n : 0, meanKl: n ? kl / n : 0 };
}

/** Cosine similarity and mean squared error of two output maps (detection/recognition heads). */
export function outputAgreement(a: Float32Array, b: Float32Array) {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let se = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
    const d = a[i] - b[i];
    se += d * d;
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  return { cosine: dot / (Math.sqrt(na * nb) || 1), mse: se / (a.length || 1), maxAbsDiff: maxAbs };
}

/** Inputs of quantized ops that carry scales / zero points rather than weights. */
const NOT_PARAMETERS: Record<string, number[]> = {
  DequantizeLinear: [1, 2],
  QuantizeLinear: [1, 2],
  MatMulNBits: [2, 3],
  DynamicQuantizeMatMul: [2, 3],
  ConvInteger: [2, 3],
  MatMulInteger: [2, 3],
  Reshape: [1],
};

/**
 * Weights and biases, each logical element counted once whatever its storage: packed int4
 * blocks count K*N, quantized tensors their element count; scales, zero points and int64
 * shape constants are not parameters.
 */
export function countParameters(graph: GraphProto): number {
  const inits = initializerMap(graph);
  const skip = new Set<string>();
  const nbits = new Map<string, number>();
  for (const n of graph.node ?? []) {
    for (const i of NOT_PARAMETERS[n.opType ?? ""] ?? []) skip.add(n.input?.[i] ?? "");
    if (n.opType === "MatMulNBits")
      nbits.set(n.input?.[1] ?? "", attrInt(n, "K", 0) * attrInt(n, "N", 0));
  }
  let total = 0;
  for (const [name, t] of inits) {
    if (skip.has(name) || t.dataType === DataType.INT64) continue;
    total += nbits.get(name) ?? elementCount(tensorDims(t));
  }
  return total;
}

export type Shapes = ReadonlyMap<string, readonly number[]>;

/**
 * FLOPs of one forward pass by op type (2 per multiply-add for matrix/conv kernels, 1 per
 * output element for the rest), from concrete tensor shapes (see probeShapes).
 */
export function flopsByOp(graph: GraphProto, shapes: Shapes): Record<string, number> {
  const out: Record<string, number> = {};
  const inits = initializerMap(graph);
  const dims = (name: string) =>
    shapes.get(name) ?? (inits.has(name) ? tensorDims(inits.get(name) ?? {}) : undefined);
  for (const node of graph.node ?? []) {
    const f = nodeFlops(node, dims);
    if (f > 0) out[node.opType ?? ""] = (out[node.opType ?? ""] ?? 0) + f;
  }
  return out;
}

const prod = (d: readonly number[] | undefined) => (d ? d.reduce((a, b) => a * b, 1) : 0);

function nodeFlops(node: NodeProto, dims: (n: string) => readonly number[] | undefined): number {
  const op = node.opType ?? "";
  const out = dims(node.output?.[0] ?? "");
  const input = (i: number) => dims(node.input?.[i] ?? "");
  switch (op) {
    case "MatMul":
    case "MatMulInteger":
    case "DynamicQuantizeMatMul":
    case "Gemm": {
      const a = input(0);
      const k = a ? a[a.length - 1] : 0;
      return 2 * prod(out) * k;
    }
    case "MatMulNBits":
      return 2 * prod(out) * attrInt(node, "K", 0);
    case "Conv":
    case "ConvInteger": {
      const w = input(1);
      return w ? 2 * prod(out) * prod(w.slice(1)) : 0;
    }
    case "ConvTranspose": {
      const x = input(0);
      const w = input(1);
      return x && w ? 2 * prod(x) * prod(w.slice(1)) : 0;
    }
    case "Constant":
    case "Shape":
    case "Reshape":
    case "Flatten":
    case "Squeeze":
    case "Unsqueeze":
    case "Identity":
      return 0;
    default:
      return prod(out);
  }
}
