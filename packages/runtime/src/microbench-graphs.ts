import { DataType, GraphBuilder, packInt4 } from "@edgefleet/onnx";

/**
 * Graphs the profile runs. Weights are initializers (as in a real model) filled with a cheap
 * deterministic pattern: the values do not matter to the kernels' speed, only their types.
 */

function pattern(n: number, period: number, offset = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i * 7 + offset) % period) - period / 2;
  return out;
}

/** Y[M,N] = A[M,K] x W[K,N] in fp32: 2*M*K*N FLOP. */
export function matmulFp32Model(m: number, k: number, n: number): Uint8Array {
  const g = new GraphBuilder();
  const a = g.input("A", DataType.FLOAT, [m, k]);
  const w = g.initializer("W", DataType.FLOAT, [k, n], scaled(pattern(k * n, 17), 0.01));
  g.node("MatMul", [a, w], ["Y"]);
  g.output("Y", DataType.FLOAT, [m, n]);
  return g.toBytes();
}

/** fp16 end to end: runs only where the execution provider has fp16 MatMul kernels. */
export function matmulFp16Model(m: number, k: number, n: number): Uint8Array {
  const g = new GraphBuilder();
  const a = g.input("A", DataType.FLOAT16, [m, k]);
  const w = g.initializer("W", DataType.FLOAT16, [k, n], scaled(pattern(k * n, 17), 0.01));
  g.node("MatMul", [a, w], ["Y"]);
  g.output("Y", DataType.FLOAT16, [m, n]);
  return g.toBytes();
}

/** Dynamic-quantization path: uint8 activations x int8 weights -> int32 (MatMulInteger). */
export function matmulIntegerModel(m: number, k: number, n: number): Uint8Array {
  const g = new GraphBuilder();
  const a = g.input("A", DataType.UINT8, [m, k]);
  const w = g.initializer("W", DataType.INT8, [k, n], pattern(k * n, 200));
  const azp = g.initializer("A_zp", DataType.UINT8, [], [128]);
  g.node("MatMulInteger", [a, w, azp], ["Y"]);
  g.output("Y", DataType.INT32, [m, n]);
  return g.toBytes();
}

/** Static-quantization path: QLinearMatMul, what ORT fuses QDQ MatMul into. */
export function qlinearMatmulModel(m: number, k: number, n: number): Uint8Array {
  const g = new GraphBuilder();
  const a = g.input("A", DataType.UINT8, [m, k]);
  const as = g.initializer("a_scale", DataType.FLOAT, [], [0.02]);
  const azp = g.initializer("a_zp", DataType.UINT8, [], [128]);
  const w = g.initializer("W", DataType.INT8, [k, n], pattern(k * n, 200));
  const ws = g.initializer("w_scale", DataType.FLOAT, [], [0.01]);
  const wzp = g.initializer("w_zp", DataType.INT8, [], [0]);
  const ys = g.initializer("y_scale", DataType.FLOAT, [], [0.5]);
  const yzp = g.initializer("y_zp", DataType.UINT8, [], [128]);
  g.node("QLinearMatMul", [a, as, azp, w, ws, wzp, ys, yzp], ["Y"]);
  g.output("Y", DataType.UINT8, [m, n]);
  return g.toBytes();
}

/**
 * Blockwise int4 weights (com.microsoft MatMulNBits, block 32). accuracyLevel 4 lets ORT quantize
 * activations to int8 and use integer dot products; 0 dequantizes to fp32.
 */
export function matmulNBitsModel(
  m: number,
  k: number,
  n: number,
  accuracyLevel = 0,
  block = 32,
): Uint8Array {
  const g = new GraphBuilder();
  const blocks = Math.ceil(k / block);
  const a = g.input("A", DataType.FLOAT, [m, k]);
  const codes = new Uint8Array(n * blocks * block);
  for (let i = 0; i < codes.length; i++) codes[i] = (i * 7) % 16;
  const packed = packInt4(codes);
  const w = g.initializer("W", DataType.UINT8, [n, blocks, block / 2], { raw: packed });
  const scales = g.initializer(
    "scales",
    DataType.FLOAT,
    [n * blocks],
    new Float32Array(n * blocks).fill(0.01),
  );
  g.node("MatMulNBits", [a, w, scales], ["Y"], {
    domain: "com.microsoft",
    attrs: { K: k, N: n, bits: 4, block_size: block, accuracy_level: accuracyLevel },
  });
  g.output("Y", DataType.FLOAT, [m, n]);
  return g.toBytes({ opsets: { "": 17, "com.microsoft": 1 } });
}

/**
 * Sum of a large float initializer. The reduction axes arrive as an input so constant folding
 * cannot precompute the answer at load.
 */
export function reduceSumModel(bytes: number): Uint8Array {
  const n = Math.max(1024, Math.floor(bytes / 4 / 1024) * 1024);
  const g = new GraphBuilder();
  const axes = g.input("axes", DataType.INT64, [1]);
  const x = g.initializer("X", DataType.FLOAT, [n / 1024, 1024], { raw: new Uint8Array(n * 4) });
  g.node("ReduceSum", [x, axes], ["Y"], { attrs: { keepdims: 0 } });
  g.output("Y", DataType.FLOAT);
  return g.toBytes();
}

/** A chain of `ops` Adds on a tiny tensor: time grows with dispatch overhead, not arithmetic. */
export function addChainModel(ops: number): Uint8Array {
  const g = new GraphBuilder();
  let x = g.input("X", DataType.FLOAT, [1, 16]);
  const one = g.initializer("one", DataType.FLOAT, [1, 16], new Float32Array(16).fill(1));
  for (let i = 0; i < ops; i++) {
    const out = i === ops - 1 ? "Y" : `t${i}`;
    g.node("Add", [x, one], [out]);
    x = out;
  }
  g.output("Y", DataType.FLOAT, [1, 16]);
  return g.toBytes();
}

function scaled(xs: Float32Array, s: number): Float32Array {
  for (let i = 0; i < xs.length; i++) xs[i] *= s;
  return xs;
}
