import { DataType, type TensorProto, toNumber } from "./proto";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary16 bits of a float, round to nearest even, overflow to infinity. */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export const FLOAT8E4M3FN_MAX = 448;

/** float8 e4m3fn (bias 7, no infinities, NaN = S.1111.111), round to nearest even, saturating. */
export function float32ToFloat8E4M3FN(value: number): number {
  if (Number.isNaN(value)) return 0x7f;
  const sign = value < 0 || Object.is(value, -0) ? 0x80 : 0;
  const a = Math.min(Math.abs(value), FLOAT8E4M3FN_MAX);
  if (a === 0) return sign;
  // Enumerate via the exact grid: values are m * 2^(e-3) with subnormals at e=-6.
  let e = Math.floor(Math.log2(a));
  if (e < -6) e = -6;
  const step = 2 ** (e - 3);
  let q = a / step;
  const fl = Math.floor(q);
  const frac = q - fl;
  q = frac > 0.5 || (frac === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  let mant = q; // 8..16 for normals, 0..8 for subnormals
  let exp = e;
  if (mant >= 16) {
    mant /= 2;
    exp++;
  }
  if (mant < 8) return sign | mant; // subnormal (exp field 0)
  const field = exp + 7;
  const bits = (field << 3) | (mant - 8);
  return sign | Math.min(bits, 0x7e);
}

export function float8E4M3FNToFloat32(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >>> 3) & 0xf;
  const mant = b & 7;
  if (exp === 0xf && mant === 7) return Number.NaN;
  if (exp === 0) return sign * mant * 2 ** -9;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}

export function bfloat16BitsToFloat32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** ONNX 4-bit packing: element 2i in the low nibble, 2i+1 in the high nibble of byte i. */
export function packInt4(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    const nib = values[i] & 0xf;
    out[i >> 1] |= i & 1 ? nib << 4 : nib;
  }
  return out;
}

export function unpackInt4(bytes: Uint8Array, count: number, signed: boolean): Int8Array {
  const out = new Int8Array(count);
  for (let i = 0; i < count; i++) {
    const b = bytes[i >> 1];
    const nib = i & 1 ? b >> 4 : b & 0xf;
    out[i] = signed && nib > 7 ? nib - 16 : nib;
  }
  return out;
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map(toNumber);
}

/** Bits per element of a dtype (4 for int4/uint4). */
export function dtypeBits(dtype: number): number {
  switch (dtype) {
    case DataType.INT4:
    case DataType.UINT4:
      return 4;
    case DataType.UINT8:
    case DataType.INT8:
    case DataType.BOOL:
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ:
      return 8;
    case DataType.UINT16:
    case DataType.INT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return 16;
    case DataType.FLOAT:
    case DataType.INT32:
    case DataType.UINT32:
      return 32;
    case DataType.INT64:
    case DataType.UINT64:
    case DataType.DOUBLE:
      return 64;
    default:
      throw new RangeError(`no fixed element size for dtype ${dtype}`);
  }
}

/** Encodes numbers as the raw little-endian bytes of `dtype` (converting floats as needed). */
export function encodeRaw(dtype: number, values: ArrayLike<number> | BigInt64Array): Uint8Array {
  const n = values.length;
  const num = (i: number) => Number(values[i]);
  const view = <T extends ArrayBufferView>(a: T) =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (dtype) {
    case DataType.FLOAT:
      return view(Float32Array.from({ length: n }, (_, i) => num(i)));
    case DataType.DOUBLE:
      return view(Float64Array.from({ length: n }, (_, i) => num(i)));
    case DataType.FLOAT16:
      return view(Uint16Array.from({ length: n }, (_, i) => float32ToFloat16Bits(num(i))));
    case DataType.FLOAT8E4M3FN:
      return Uint8Array.from({ length: n }, (_, i) => float32ToFloat8E4M3FN(num(i)));
    case DataType.INT8:
      return view(Int8Array.from({ length: n }, (_, i) => num(i)));
    case DataType.UINT8:
    case DataType.BOOL:
      return Uint8Array.from({ length: n }, (_, i) => num(i));
    case DataType.INT16:
      return view(Int16Array.from({ length: n }, (_, i) => num(i)));
    case DataType.UINT16:
      return view(Uint16Array.from({ length: n }, (_, i) => num(i)));
    case DataType.INT32:
      return view(Int32Array.from({ length: n }, (_, i) => num(i)));
    case DataType.UINT32:
      return view(Uint32Array.from({ length: n }, (_, i) => num(i)));
    case DataType.INT64:
      return view(BigInt64Array.from({ length: n }, (_, i) => BigInt(values[i])));
    case DataType.INT4:
    case DataType.UINT4:
      return packInt4(Array.from({ length: n }, (_, i) => num(i)));
    default:
      throw new RangeError(`cannot encode dtype ${dtype}`);
  }
}

export interface MakeTensorOptions {
  /** Already-encoded little-endian bytes, used as is (e.g. packed MatMulNBits blocks). */
  raw?: Uint8Array;
  values?: ArrayLike<number> | BigInt64Array;
}

export function makeTensor(
  name: string,
  dtype: number,
  dims: readonly number[],
  data: ArrayLike<number> | BigInt64Array | { raw: Uint8Array },
): TensorProto {
  const rawData =
    "raw" in data && data.raw instanceof Uint8Array
      ? data.raw
      : encodeRaw(dtype, data as ArrayLike<number>);
  return { name, dataType: dtype, dims: [...dims], rawData };
}

function rawBytes(t: TensorProto): Uint8Array | undefined {
  const raw = t.rawData;
  if (!raw || raw.length === 0) return undefined;
  // Decoded buffers may sit at odd offsets of a shared buffer: copy so typed views align.
  return raw.byteOffset % 8 === 0 ? raw : Uint8Array.from(raw);
}

/** Reads any numeric initializer into float32 (int types as their integer values). */
export function tensorToFloat32(t: TensorProto): Float32Array {
  const dtype = t.dataType ?? 0;
  const n = elementCount(tensorDims(t));
  const raw = rawBytes(t);
  if (!raw) return fromTypedFields(t, dtype, n);
  const buf = raw.buffer;
  const off = raw.byteOffset;
  switch (dtype) {
    case DataType.FLOAT:
      return new Float32Array(buf, off, n).slice();
    case DataType.DOUBLE:
      return Float32Array.from(new Float64Array(buf, off, n));
    case DataType.FLOAT16:
      return Float32Array.from(new Uint16Array(buf, off, n), float16BitsToFloat32);
    case DataType.BFLOAT16:
      return Float32Array.from(new Uint16Array(buf, off, n), bfloat16BitsToFloat32);
    case DataType.FLOAT8E4M3FN:
      return Float32Array.from(raw.subarray(0, n), float8E4M3FNToFloat32);
    case DataType.INT8:
      return Float32Array.from(new Int8Array(buf, off, n));
    case DataType.UINT8:
    case DataType.BOOL:
      return Float32Array.from(raw.subarray(0, n));
    case DataType.INT16:
      return Float32Array.from(new Int16Array(buf, off, n));
    case DataType.UINT16:
      return Float32Array.from(new Uint16Array(buf, off, n));
    case DataType.INT32:
      return Float32Array.from(new Int32Array(buf, off, n));
    case DataType.UINT32:
      return Float32Array.from(new Uint32Array(buf, off, n));
    case DataType.INT64:
      return Float32Array.from(new BigInt64Array(buf, off, n), (v) => Number(v));
    case DataType.INT4:
      return Float32Array.from(unpackInt4(raw, n, true));
    case DataType.UINT4:
      return Float32Array.from(unpackInt4(raw, n, false));
    default:
      throw new RangeError(`cannot read dtype ${dtype} of tensor "${t.name}"`);
  }
}

function fromTypedFields(t: TensorProto, dtype: number, n: number): Float32Array {
  switch (dtype) {
    case DataType.FLOAT:
      return Float32Array.from(t.floatData ?? []);
    case DataType.DOUBLE:
      return Float32Array.from(t.doubleData ?? []);
    case DataType.INT64:
      return Float32Array.from((t.int64Data ?? []).map(toNumber));
    case DataType.FLOAT16:
      return Float32Array.from(t.int32Data ?? [], float16BitsToFloat32);
    case DataType.FLOAT8E4M3FN:
      return Float32Array.from(t.int32Data ?? [], float8E4M3FNToFloat32);
    default: {
      if (n > 0 && (t.int32Data ?? []).length === 0) {
        throw new RangeError(`tensor "${t.name}" has no data (external data is not supported)`);
      }
      return Float32Array.from(t.int32Data ?? []);
    }
  }
}

/** Integer view of an int64/int32 tensor (shape constants for Reshape and friends). */
export function tensorToIntegers(t: TensorProto): number[] {
  return Array.from(tensorToFloat32WithInt64(t));
}

function tensorToFloat32WithInt64(t: TensorProto): Float64Array {
  const raw = rawBytes(t);
  const n = elementCount(tensorDims(t));
  if (t.dataType === DataType.INT64) {
    if (raw) return Float64Array.from(new BigInt64Array(raw.buffer, raw.byteOffset, n), Number);
    return Float64Array.from((t.int64Data ?? []).map(toNumber));
  }
  return Float64Array.from(tensorToFloat32(t));
}

/** Bytes the tensor's payload takes on the wire. */
export function tensorByteSize(t: TensorProto): number {
  const raw = t.rawData;
  if (raw && raw.length > 0) return raw.length;
  const n = elementCount(tensorDims(t));
  return Math.ceil((n * dtypeBits(t.dataType ?? DataType.FLOAT)) / 8);
}
