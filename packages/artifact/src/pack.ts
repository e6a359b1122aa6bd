import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  crc32,
  gunzipSync,
  gzipSync,
} from "node:zlib";
import {
  DataType,
  decodeModel,
  elementCount,
  encodeModel,
  type ModelProto,
  type TensorProto,
  tensorDims,
  tensorToFloat32,
} from "@edgefleet/onnx";
import {
  ByteReader,
  ByteWriter,
  Codec,
  type CodecName,
  isPackedModel,
  PACK_HEADER_BYTES,
  PACK_MAGIC,
  PACK_VERSION,
  PackedModelError,
} from "./pack-format";

export { isPackedModel };

import { decodeTensor, type EncodedTensor, encodeTensor } from "./tensor-coding";

export interface PackOptions {
  /** Default brotli (quality 11), the smallest; gzip is faster and everywhere. */
  codec?: CodecName;
}

/** Float initializers below this size stay inside the skeleton: coding them costs more than it saves. */
const MIN_PACKED_ELEMENTS = 16;
const MAX_TENSORS = 65535;
/** Refuse to inflate more than this: a damaged or hostile header must not exhaust memory. */
const MAX_RAW_BYTES = 1 << 30;

/**
 * Packs an ONNX model into the shipped form (see pack-format.ts): sparse/codebook coding of the
 * float initializers, then brotli or gzip. Lossless: `unpackModel` gives back the same model.
 * (Lossy weight sharing before packing is @edgefleet/compression's `packModel`.)
 */
export function packModel(onnxBytes: Uint8Array, opts: PackOptions = {}): Uint8Array {
  const codec = opts.codec ?? "brotli";
  if (!Object.hasOwn(Codec, codec)) {
    throw new RangeError(`unknown codec "${codec}" (brotli, gzip or none)`);
  }
  const model = decodeModel(onnxBytes);
  const tensors = (model.graph?.initializer ?? []).filter(isPackableInitializer);
  if (tensors.length > MAX_TENSORS) throw new RangeError("too many initializers to pack");
  const encoded = tensors.map((t) => ({
    name: t.name ?? "",
    enc: encodeTensor(tensorToFloat32(t)),
  }));
  for (const t of tensors) {
    t.rawData = new Uint8Array(0);
    t.floatData = [];
  }
  const payload = writePayload(encodeModel(model), encoded);
  return writeHeader(payload, codec);
}

/**
 * The initializers `packModel` codes (float32, inline, at least 16 elements); every other
 * initializer travels unchanged inside the skeleton. Exported so that lossy steps before packing
 * (weight sharing in @edgefleet/compression) touch exactly the tensors that get coded.
 */
export function isPackableInitializer(t: TensorProto): boolean {
  return (
    t.dataType === DataType.FLOAT &&
    !(t.externalData && t.externalData.length > 0) &&
    elementCount(tensorDims(t)) >= MIN_PACKED_ELEMENTS
  );
}

function writePayload(
  skeleton: Uint8Array,
  tensors: Array<{ name: string; enc: EncodedTensor }>,
): Uint8Array {
  const w = new ByteWriter();
  w.u32(skeleton.length);
  w.bytes(skeleton);
  w.u32(tensors.length);
  const utf8 = new TextEncoder();
  for (const { name, enc } of tensors) {
    const nameBytes = utf8.encode(name);
    w.u16(nameBytes.length);
    w.bytes(nameBytes);
    w.u8(enc.encoding);
    w.u32(enc.count);
    w.u32(enc.nonZero);
    w.u16(enc.codebook.length);
    for (const v of enc.codebook) w.u32(v);
    w.u32(enc.indexStream.length);
    w.u32(enc.valueStream.length);
  }
  for (const { enc } of tensors) w.bytes(enc.indexStream);
  for (const { enc } of tensors) w.bytes(enc.valueStream);
  return w.finish();
}

function compress(payload: Uint8Array, codec: CodecName): Uint8Array {
  if (codec === "brotli") {
    return brotliCompressSync(payload, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_LGWIN]: 24,
        [constants.BROTLI_PARAM_SIZE_HINT]: payload.length,
      },
    });
  }
  if (codec === "gzip") return gzipSync(payload, { level: 9 });
  return payload;
}

function writeHeader(payload: Uint8Array, codec: CodecName): Uint8Array {
  const stored = compress(payload, codec);
  const out = new Uint8Array(PACK_HEADER_BYTES + stored.length);
  const view = new DataView(out.buffer);
  out.set(PACK_MAGIC, 0);
  out[4] = PACK_VERSION;
  out[5] = Codec[codec];
  view.setUint32(8, stored.length, true);
  view.setUint32(12, payload.length, true);
  out.set(stored, PACK_HEADER_BYTES);
  view.setUint32(16, checksum(out), true);
  return out;
}

function checksum(packed: Uint8Array): number {
  return crc32(packed.subarray(PACK_HEADER_BYTES), crc32(packed.subarray(0, 16))) >>> 0;
}

export interface PackedTensorInfo {
  name: string;
  encoding: "dense-f32" | "dense-codebook" | "sparse-f32" | "sparse-codebook";
  elements: number;
  nonZero: number;
  codebookSize: number;
}

/**
 * Turns a packed model back into the runnable ONNX model. Checks magic, version, lengths and
 * CRC-32 before decompressing, bounds-checks every field after, and re-validates the result as
 * ONNX: corrupt input raises PackedModelError and never yields a partial model.
 */
export function unpackModel(packed: Uint8Array): Uint8Array {
  return readPacked(packed).onnx;
}

/** What a packed model holds, tensor by tensor (for catalogues and `compress unpack`). */
export function inspectPacked(packed: Uint8Array): PackedTensorInfo[] {
  return readPacked(packed).tensors;
}

function readPacked(packed: Uint8Array): { onnx: Uint8Array; tensors: PackedTensorInfo[] } {
  const payload = openEnvelope(packed);
  const r = new ByteReader(payload);
  const skeleton = r.bytes(r.u32());
  const count = r.u32();
  const heads = Array.from({ length: count }, () => readTensorHead(r));
  for (const h of heads) h.enc.indexStream = r.bytes(h.indexLength);
  for (const h of heads) h.enc.valueStream = r.bytes(h.valueLength);
  if (r.remaining !== 0) throw new PackedModelError("corrupt", "trailing bytes after the tensors");
  let model: ModelProto;
  try {
    model = decodeModel(skeleton);
  } catch (cause) {
    throw new PackedModelError("corrupt", "the model skeleton is not ONNX", { cause });
  }
  const byName = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? "", t]));
  for (const h of heads) {
    // Check against the skeleton BEFORE decoding so a lying count cannot force a huge allocation.
    const t = checkedInitializer(byName.get(h.name), h.name, h.enc.count);
    t.rawData = toBytes(decodeTensor(h.enc, h.name));
  }
  const names = ["dense-f32", "dense-codebook", "sparse-f32", "sparse-codebook"] as const;
  return {
    onnx: encodeModel(model),
    tensors: heads.map((h) => ({
      name: h.name,
      encoding: names[h.enc.encoding],
      elements: h.enc.count,
      nonZero: h.enc.nonZero,
      codebookSize: h.enc.codebook.length,
    })),
  };
}

function openEnvelope(packed: Uint8Array): Uint8Array {
  if (packed.length < PACK_HEADER_BYTES) {
    if (isPackedModel(packed) || packed.length < 4) {
      throw new PackedModelError("truncated", `${packed.length} bytes is shorter than the header`);
    }
  }
  if (!isPackedModel(packed)) throw new PackedModelError("bad-magic", "not a packed model");
  if (packed[4] !== PACK_VERSION) {
    throw new PackedModelError(
      "unsupported-version",
      `version ${packed[4]} (this reads ${PACK_VERSION})`,
    );
  }
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const storedLength = view.getUint32(8, true);
  const rawLength = view.getUint32(12, true);
  if (rawLength > MAX_RAW_BYTES) {
    throw new PackedModelError(
      "corrupt",
      `payload claims ${rawLength} bytes (limit ${MAX_RAW_BYTES})`,
    );
  }
  if (PACK_HEADER_BYTES + storedLength !== packed.length) {
    throw new PackedModelError(
      "truncated",
      `header says ${storedLength} payload bytes, file has ${packed.length - PACK_HEADER_BYTES}`,
    );
  }
  if (checksum(packed) !== view.getUint32(16, true)) {
    throw new PackedModelError("checksum-mismatch", "CRC-32 does not match: the file is damaged");
  }
  const payload = decompress(packed.subarray(PACK_HEADER_BYTES), packed[5], rawLength);
  if (payload.length !== rawLength) {
    throw new PackedModelError("corrupt", "decompressed length does not match the header");
  }
  return payload;
}

function decompress(stored: Uint8Array, codec: number, rawLength: number): Uint8Array {
  try {
    if (codec === Codec.brotli) return brotliDecompressSync(stored, { maxOutputLength: rawLength });
    if (codec === Codec.gzip) return gunzipSync(stored, { maxOutputLength: rawLength });
  } catch (cause) {
    throw new PackedModelError("decompress-failed", "payload does not decompress", { cause });
  }
  if (codec === Codec.none) return stored;
  throw new PackedModelError("corrupt", `unknown codec ${codec}`);
}

interface TensorHead {
  name: string;
  enc: EncodedTensor;
  indexLength: number;
  valueLength: number;
}

function readTensorHead(r: ByteReader): TensorHead {
  let name: string;
  try {
    name = new TextDecoder("utf-8", { fatal: true }).decode(r.bytes(r.u16()));
  } catch (cause) {
    if (cause instanceof PackedModelError) throw cause;
    throw new PackedModelError("corrupt", "tensor name is not UTF-8", { cause });
  }
  const encoding = r.u8();
  const count = r.u32();
  const nonZero = r.u32();
  const k = r.u16();
  const codebook = new Uint32Array(k);
  for (let i = 0; i < k; i++) codebook[i] = r.u32();
  const indexLength = r.u32();
  const valueLength = r.u32();
  const enc: EncodedTensor = {
    encoding,
    count,
    nonZero,
    codebook,
    indexStream: new Uint8Array(0),
    valueStream: new Uint8Array(0),
  };
  return { name, enc, indexLength, valueLength };
}

function checkedInitializer(t: TensorProto | undefined, name: string, count: number): TensorProto {
  if (!t || t.dataType !== DataType.FLOAT) {
    throw new PackedModelError("corrupt", `no float initializer "${name}" in the skeleton`);
  }
  if (elementCount(tensorDims(t)) !== count || (t.rawData?.length ?? 0) !== 0) {
    throw new PackedModelError("corrupt", `initializer "${name}" does not fit its packed data`);
  }
  return t;
}

function toBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
