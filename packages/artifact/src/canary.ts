/**
 * A labelled canary set (EFCS, version 1): the few inputs and labels a device evaluates a
 * variant on, so a rollout can hold what the field shows against what compression measured.
 * Little-endian:
 *   0  "EFCS" magic
 *   4  u8  version (1)
 *   5  u8  reserved (0)
 *   6  u16 rank: dims per sample
 *   8  u32 sample count
 *  12  u32 reserved (0)
 *  16  rank x u32 sample dims
 *      samples x prod(dims) x f32 inputs, row-major
 *      samples x i32 labels (class index)
 */
export const CANARY_MAGIC = [0x45, 0x46, 0x43, 0x53] as const;
const HEADER = 16;
const MAX_SAMPLES = 100_000;
const MAX_RANK = 8;

export interface CanarySet {
  sampleDims: number[];
  samples: number;
  inputs: Float32Array;
  labels: Int32Array;
}

export class CanarySetError extends Error {
  override name = "CanarySetError";
}

export function isCanarySet(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && CANARY_MAGIC.every((b, i) => bytes[i] === b);
}

export function encodeCanarySet(set: Omit<CanarySet, "samples">): Uint8Array {
  const per = set.sampleDims.reduce((a, b) => a * b, 1);
  const samples = set.labels.length;
  if (set.sampleDims.length === 0 || set.sampleDims.length > MAX_RANK) {
    throw new CanarySetError(`sampleDims: rank ${set.sampleDims.length} is not 1..${MAX_RANK}`);
  }
  if (!set.sampleDims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new CanarySetError("sampleDims: every dim must be a positive integer");
  }
  if (samples === 0 || samples > MAX_SAMPLES) {
    throw new CanarySetError(`labels: ${samples} samples is not 1..${MAX_SAMPLES}`);
  }
  if (set.inputs.length !== samples * per) {
    throw new CanarySetError(
      `inputs: ${set.inputs.length} values, ${samples} samples of ${per} need ${samples * per}`,
    );
  }
  const rank = set.sampleDims.length;
  const out = new Uint8Array(HEADER + rank * 4 + set.inputs.length * 4 + samples * 4);
  const view = new DataView(out.buffer);
  out.set(CANARY_MAGIC, 0);
  out[4] = 1;
  view.setUint16(6, rank, true);
  view.setUint32(8, samples, true);
  let at = HEADER;
  for (const d of set.sampleDims) {
    view.setUint32(at, d, true);
    at += 4;
  }
  for (const v of set.inputs) {
    view.setFloat32(at, v, true);
    at += 4;
  }
  for (const l of set.labels) {
    view.setInt32(at, l, true);
    at += 4;
  }
  return out;
}

/** Parses and checks a canary set; anything inconsistent is a CanarySetError, never garbage. */
export function decodeCanarySet(bytes: Uint8Array): CanarySet {
  if (!isCanarySet(bytes) || bytes.length < HEADER) {
    throw new CanarySetError("not a canary set (no EFCS header)");
  }
  if (bytes[4] !== 1) throw new CanarySetError(`canary set version ${bytes[4]} (this reads 1)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rank = view.getUint16(6, true);
  const samples = view.getUint32(8, true);
  if (rank === 0 || rank > MAX_RANK) throw new CanarySetError(`rank ${rank} is not 1..${MAX_RANK}`);
  if (samples === 0 || samples > MAX_SAMPLES) {
    throw new CanarySetError(`${samples} samples is not 1..${MAX_SAMPLES}`);
  }
  if (bytes.length < HEADER + rank * 4) throw new CanarySetError("truncated before the dims");
  const sampleDims = Array.from({ length: rank }, (_, i) => view.getUint32(HEADER + i * 4, true));
  if (sampleDims.some((d) => d === 0)) throw new CanarySetError("a sample dim is 0");
  const per = sampleDims.reduce((a, b) => a * b, 1);
  const expected = HEADER + rank * 4 + samples * per * 4 + samples * 4;
  if (bytes.length !== expected) {
    throw new CanarySetError(`${bytes.length} bytes, the header says ${expected}`);
  }
  const start = HEADER + rank * 4;
  const inputs = new Float32Array(samples * per);
  for (let i = 0; i < inputs.length; i++) inputs[i] = view.getFloat32(start + i * 4, true);
  const labelsAt = start + inputs.length * 4;
  const labels = new Int32Array(samples);
  for (let i = 0; i < samples; i++) labels[i] = view.getInt32(labelsAt + i * 4, true);
  return { sampleDims, samples, inputs, labels };
}
