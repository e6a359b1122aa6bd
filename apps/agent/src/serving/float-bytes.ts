// float32 little-endian on the wire (HTTP binary form, gRPC `bytes`), whatever the host's order.
import { endianness } from "node:os";

const littleEndian = endianness() === "LE";

/** A fresh, aligned Float32Array from LE bytes; `bytes.byteLength` must be a multiple of 4. */
export function float32FromLe(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  if (littleEndian) {
    // Copy: a Buffer's offset in its pool is rarely 4-aligned, and the request's memory is reused.
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** LE bytes of `data`: a view on little-endian hosts, a copy otherwise. */
export function float32ToLe(data: Float32Array): Buffer {
  if (littleEndian) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(data.byteLength);
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], i * 4);
  return out;
}
