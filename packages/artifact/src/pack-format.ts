/**
 * EFPK, the packed model a device receives (media type application/vnd.edgefleet.efpk). It lives
 * in @edgefleet/artifact so that the agent unpacks it without the compression engine; the lossy
 * weight sharing that makes codebooks small is done before packing, in @edgefleet/compression.
 *
 * Byte layout of a packed model (version 1). Little-endian throughout.
 *
 * Header, 20 bytes, stored uncompressed:
 *   0  "EFPK" magic
 *   4  u8  version (1)
 *   5  u8  codec (0 none, 1 brotli, 2 gzip)
 *   6  u16 reserved (0)
 *   8  u32 payload length as stored (after compression)
 *  12  u32 payload length after decompression
 *  16  u32 CRC-32 of header bytes 0..15 followed by the stored payload
 * Payload (after decompression):
 *   u32 skeleton length, skeleton: the ONNX ModelProto with the packed initializers' data removed
 *   u32 tensor count, then per tensor:
 *     u16 name length, name (UTF-8), u8 encoding, u32 element count, u32 non-zero count,
 *     u16 codebook size K, K x f32 codebook, u32 index-stream length, u32 value-stream length
 *   all index streams back to back, then all value streams back to back (like data sits
 *   together, which is what lets the general-purpose compressor act as the entropy coder).
 * Encodings: 0 dense f32, 1 dense codebook (u8 per element), 2 sparse f32, 3 sparse codebook
 *   (u8 per non-zero). Sparse positions are gaps between non-zeros in row-major order, one byte
 *   each, where 255 means "add 255 and read on". f32 value streams are stored as 4 byte planes.
 * "Zero" means the all-zero bit pattern, so -0 and NaN payloads round-trip exactly.
 */
export const PACK_MAGIC = [0x45, 0x46, 0x50, 0x4b] as const;
export const PACK_VERSION = 1;
export const PACK_HEADER_BYTES = 20;

/**
 * True when the bytes start with the packed-model magic (cheap sniffing for CLI and agent). Kept
 * here, apart from the codec, so sniffing does not load the ONNX protobuf schema.
 */
export function isPackedModel(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && PACK_MAGIC.every((b, i) => bytes[i] === b);
}

export const Codec = { none: 0, brotli: 1, gzip: 2 } as const;
export type CodecName = keyof typeof Codec;

export const Encoding = { denseRaw: 0, denseCodebook: 1, sparseRaw: 2, sparseCodebook: 3 } as const;

export type PackErrorCode =
  | "bad-magic"
  | "unsupported-version"
  | "truncated"
  | "checksum-mismatch"
  | "decompress-failed"
  | "corrupt";

/** A packed model that cannot be unpacked; `code` says why. Never yields a partial model. */
export class PackedModelError extends Error {
  override name = "PackedModelError";
  constructor(
    readonly code: PackErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`packed model: ${message}`, options);
  }
}

/** Append-only little-endian writer. */
export class ByteWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Bounds-checked reader: running off the end is a typed "corrupt" error, never garbage. */
export class ByteReader {
  private readonly view: DataView;
  offset = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): number {
    if (n < 0 || this.offset + n > this.buf.length) {
      throw new PackedModelError("corrupt", `payload ends early at byte ${this.offset}`);
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }
  u8(): number {
    return this.buf[this.need(1)];
  }
  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  f32(): number {
    return this.view.getFloat32(this.need(4), true);
  }
  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }
  get remaining(): number {
    return this.buf.length - this.offset;
  }
}
