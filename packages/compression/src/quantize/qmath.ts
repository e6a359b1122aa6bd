/** Integer grid of a quantized type. */
export interface QRange {
  qmin: number;
  qmax: number;
}

export const INT8: QRange = { qmin: -128, qmax: 127 };
/** int8 weights with 7 bits in use (ORT's reduce_range): see int8ReduceRange. */
export const INT7: QRange = { qmin: -64, qmax: 63 };
export const UINT8: QRange = { qmin: 0, qmax: 255 };
export const UINT4: QRange = { qmin: 0, qmax: 15 };

/** Grid of int8 weights that meet uint8 activations in an integer kernel. */
export function int8WeightRange(reduceRange: boolean): QRange {
  return reduceRange ? INT7 : INT8;
}

export interface QParams {
  scale: number;
  zeroPoint: number;
}

/**
 * Scale and zero point that map [min, max] onto the grid. The range always contains 0 so that
 * zero (padding, ReLU floors) is exact. Symmetric uses zero point 0 (int8) or the grid middle.
 */
export function chooseQParams(
  min: number,
  max: number,
  range: QRange,
  symmetric: boolean,
): QParams {
  let lo = Math.min(min, 0);
  let hi = Math.max(max, 0);
  if (symmetric) {
    const a = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -a;
    hi = a;
  }
  if (symmetric) {
    const half =
      range.qmin < 0
        ? Math.min(-range.qmin, range.qmax)
        : Math.floor((range.qmax - range.qmin) / 2);
    const scale = hi / half || 1;
    const zeroPoint = range.qmin < 0 ? 0 : Math.round((range.qmax + range.qmin + 1) / 2);
    return { scale, zeroPoint };
  }
  const scale = (hi - lo) / (range.qmax - range.qmin) || 1;
  const zeroPoint = clamp(Math.round(range.qmin - lo / scale), range.qmin, range.qmax);
  return { scale, zeroPoint };
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(v, hi));
}

/** Round half to even, as ONNX QuantizeLinear does. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function quantizeValue(v: number, p: QParams, range: QRange): number {
  return clamp(roundHalfEven(v / p.scale) + p.zeroPoint, range.qmin, range.qmax);
}

export function dequantizeValue(q: number, p: QParams): number {
  return (q - p.zeroPoint) * p.scale;
}

export function minMax(values: ArrayLike<number>): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return values.length ? [lo, hi] : [0, 0];
}

export interface ChannelQuant {
  /** quantized values (integers, or fp8 grid values) */
  q: Int32Array | Float32Array;
  scales: Float32Array;
  zeroPoints: Int32Array;
}

/**
 * Quantizes a row-major tensor along `axis` (per channel), or as a whole when axis is undefined.
 */
export function quantizeTensor(
  data: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
  range: QRange,
  symmetric: boolean,
): ChannelQuant {
  const channels = axis === undefined ? 1 : dims[axis];
  const inner = axis === undefined ? data.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
  const lo = new Float64Array(channels).fill(0);
  const hi = new Float64Array(channels).fill(0);
  for (let i = 0; i < data.length; i++) {
    const c = channelOf(i);
    if (data[i] < lo[c]) lo[c] = data[i];
    if (data[i] > hi[c]) hi[c] = data[i];
  }
  const params = Array.from({ length: channels }, (_, c) =>
    chooseQParams(lo[c], hi[c], range, symmetric),
  );
  const q = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) q[i] = quantizeValue(data[i], params[channelOf(i)], range);
  return {
    q,
    scales: Float32Array.from(params, (p) => p.scale),
    zeroPoints: Int32Array.from(params, (p) => p.zeroPoint),
  };
}

export function dequantizeTensor(
  cq: ChannelQuant,
  dims: readonly number[],
  axis: number | undefined,
): Float32Array {
  const channels = cq.scales.length;
  const inner = axis === undefined ? cq.q.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(cq.q.length);
  for (let i = 0; i < out.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    out[i] = (cq.q[i] - cq.zeroPoints[c]) * cq.scales[c];
  }
  return out;
}

export interface BlockQuant {
  /** [N, blocks, blockSize/2] packed uint4, element k of a block in the low nibble when even. */
  packed: Uint8Array;
  /** [N * blocks] */
  scales: Float32Array;
  /** [N * ceil(blocks/2)] packed uint4 zero points. */
  zeroPoints: Uint8Array;
  blocks: number;
}

/**
 * MatMulNBits layout: weight W[K, N] is transposed to N rows of K, cut into blocks of
 * `blockSize` along K (K padded with zeros), each block asymmetric uint4 with its own zero point.
 */
export function quantizeBlockwiseUint4(
  w: Float32Array,
  k: number,
  n: number,
  blockSize = 32,
): BlockQuant {
  const blocks = Math.ceil(k / blockSize);
  const blob = blockSize / 2;
  const packed = new Uint8Array(n * blocks * blob);
  const scales = new Float32Array(n * blocks);
  const zpPerRow = Math.ceil(blocks / 2);
  const zeroPoints = new Uint8Array(n * zpPerRow);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < blocks; b++) {
      const vals: number[] = [];
      for (let j = 0; j < blockSize; j++) {
        const row = b * blockSize + j;
        vals.push(row < k ? w[row * n + col] : 0);
      }
      const [lo, hi] = minMax(vals);
      const p = chooseQParams(lo, hi, UINT4, false);
      scales[col * blocks + b] = p.scale;
      const zpByte = col * zpPerRow + (b >> 1);
      zeroPoints[zpByte] |= b & 1 ? p.zeroPoint << 4 : p.zeroPoint;
      for (let j = 0; j < blockSize; j++) {
        const q = quantizeValue(vals[j], p, UINT4);
        const byte = (col * blocks + b) * blob + (j >> 1);
        packed[byte] |= j & 1 ? q << 4 : q;
      }
    }
  }
  return { packed, scales, zeroPoints, blocks };
}

/** Inverse of quantizeBlockwiseUint4, back to W[K, N]. */
export function dequantizeBlockwiseUint4(bq: BlockQuant, k: number, n: number, blockSize = 32) {
  const out = new Float32Array(k * n);
  const blob = blockSize / 2;
  const zpPerRow = Math.ceil(bq.blocks / 2);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < bq.blocks; b++) {
      const zb = bq.zeroPoints[col * zpPerRow + (b >> 1)];
      const zp = b & 1 ? zb >> 4 : zb & 0xf;
      const s = bq.scales[col * bq.blocks + b];
      for (let j = 0; j < blockSize; j++) {
        const row = b * blockSize + j;
        if (row >= k) break;
        const byte = bq.packed[(col * bq.blocks + b) * blob + (j >> 1)];
        const q = j & 1 ? byte >> 4 : byte & 0xf;
        out[row * n + col] = (q - zp) * s;
      }
    }
  }
  return out;
}
