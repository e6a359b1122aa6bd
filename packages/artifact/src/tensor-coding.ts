import { Encoding, PackedModelError } from "./pack-format";

/** One float32 tensor in packed form. */
export interface EncodedTensor {
  encoding: number;
  count: number;
  nonZero: number;
  /** Codebook entries as float32 bit patterns (exact, NaN payloads included). */
  codebook: Uint32Array;
  indexStream: Uint8Array;
  valueStream: Uint8Array;
}

const MAX_CODEBOOK = 256;
const GAP_ESCAPE = 255;

/**
 * Chooses the smallest lossless layout: codebook when at most 256 distinct values (which is what
 * weight sharing produces), sparse positions when at most half the entries are non-zero.
 */
export function encodeTensor(values: Float32Array): EncodedTensor {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let nonZero = 0;
  for (let i = 0; i < bits.length; i++) if (bits[i] !== 0) nonZero++;
  const sparse = nonZero * 2 <= values.length;
  const book = buildCodebook(bits, !sparse);
  const encoding = sparse
    ? book
      ? Encoding.sparseCodebook
      : Encoding.sparseRaw
    : book
      ? Encoding.denseCodebook
      : Encoding.denseRaw;
  const indexStream = sparse ? encodeGaps(bits, nonZero) : new Uint8Array(0);
  const kept = sparse ? nonZeroBits(bits, nonZero) : bits;
  const valueStream = book ? codeIndices(kept, book.index) : bytePlanes(kept);
  return {
    encoding,
    count: values.length,
    nonZero,
    codebook: book ? book.values : new Uint32Array(0),
    indexStream,
    valueStream,
  };
}

function buildCodebook(
  bits: Uint32Array,
  includeZero: boolean,
): { values: Uint32Array; index: Map<number, number> } | undefined {
  const index = new Map<number, number>();
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    if ((b === 0 && !includeZero) || index.has(b)) continue;
    if (index.size === MAX_CODEBOOK) return undefined;
    index.set(b, index.size);
  }
  // Sorted codebook: neighbouring indices are neighbouring values, which compresses better.
  const f = new Float32Array(Uint32Array.from(index.keys()).buffer);
  const order = [...f.keys()].sort((a, b) => f[a] - f[b] || a - b);
  const values = Uint32Array.from(order, (k) => new Uint32Array(f.buffer)[k]);
  const sorted = new Map<number, number>();
  values.forEach((b, k) => {
    sorted.set(b, k);
  });
  return { values, index: sorted };
}

function nonZeroBits(bits: Uint32Array, nonZero: number): Uint32Array {
  const out = new Uint32Array(nonZero);
  let k = 0;
  for (let i = 0; i < bits.length; i++) if (bits[i] !== 0) out[k++] = bits[i];
  return out;
}

function codeIndices(bits: Uint32Array, index: Map<number, number>): Uint8Array {
  return Uint8Array.from(bits, (b) => index.get(b)!);
}

function encodeGaps(bits: Uint32Array, nonZero: number): Uint8Array {
  const out: number[] = [];
  out.length = 0;
  let prev = -1;
  for (let i = 0; i < bits.length; i++) {
    if (bits[i] === 0) continue;
    let gap = i - prev - 1;
    while (gap >= GAP_ESCAPE) {
      out.push(GAP_ESCAPE);
      gap -= GAP_ESCAPE;
    }
    out.push(gap);
    prev = i;
  }
  if (prev === -1 && nonZero !== 0) throw new Error("unreachable");
  return Uint8Array.from(out);
}

/** Float bytes grouped by significance: exponent bytes of all values, then the next, ... */
function bytePlanes(bits: Uint32Array): Uint8Array {
  const n = bits.length;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    const b = bits[i];
    out[i] = b >>> 24;
    out[n + i] = (b >>> 16) & 0xff;
    out[2 * n + i] = (b >>> 8) & 0xff;
    out[3 * n + i] = b & 0xff;
  }
  return out;
}

function fromBytePlanes(planes: Uint8Array, n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] =
      ((planes[i] << 24) | (planes[n + i] << 16) | (planes[2 * n + i] << 8) | planes[3 * n + i]) >>>
      0;
  }
  return out;
}

/** Inverse of encodeTensor; every inconsistency is a typed "corrupt" error. */
export function decodeTensor(t: EncodedTensor, name: string): Float32Array {
  const corrupt = (msg: string) => new PackedModelError("corrupt", `tensor "${name}": ${msg}`);
  const sparse = t.encoding === Encoding.sparseRaw || t.encoding === Encoding.sparseCodebook;
  const coded = t.encoding === Encoding.denseCodebook || t.encoding === Encoding.sparseCodebook;
  if (t.encoding > Encoding.sparseCodebook) throw corrupt(`unknown encoding ${t.encoding}`);
  const stored = sparse ? t.nonZero : t.count;
  if (t.nonZero > t.count) throw corrupt("more non-zeros than elements");
  const expect = coded ? stored : stored * 4;
  if (t.valueStream.length !== expect) throw corrupt("value stream has the wrong length");
  let vals: Uint32Array;
  if (coded) {
    const book = t.codebook;
    vals = new Uint32Array(stored);
    for (let i = 0; i < stored; i++) {
      const k = t.valueStream[i];
      if (k >= book.length) throw corrupt("codebook index out of range");
      vals[i] = book[k];
    }
  } else vals = fromBytePlanes(t.valueStream, stored);
  if (!sparse) return new Float32Array(vals.buffer);
  const out = new Uint32Array(t.count);
  let pos = -1;
  let acc = 0;
  let k = 0;
  for (const g of t.indexStream) {
    acc += g;
    if (g === GAP_ESCAPE) continue;
    pos += acc + 1;
    acc = 0;
    if (pos >= t.count || k >= stored) throw corrupt("sparse position out of range");
    out[pos] = vals[k++];
  }
  if (k !== stored || acc !== 0) throw corrupt("sparse positions do not match the non-zero count");
  return new Float32Array(out.buffer);
}
