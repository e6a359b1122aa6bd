// The shipped (EFPK) format lives in @edgefleet/artifact, which devices use without this engine.
// What stays here is the LOSSY step before packing: k-means weight sharing of the initializers.
import {
  type CodecName,
  isPackableInitializer,
  packModel as packLossless,
} from "@edgefleet/artifact";
import { decodeModel, encodeModel, tensorToFloat32 } from "@edgefleet/onnx";
import { clusterWeights } from "./cluster";

// Existing callers of @edgefleet/compression keep working; new code imports @edgefleet/artifact.
export {
  Codec,
  type CodecName,
  inspectPacked,
  isPackedModel,
  PACK_MAGIC,
  PACK_VERSION,
  type PackErrorCode,
  PackedModelError,
  type PackedTensorInfo,
  unpackModel,
} from "@edgefleet/artifact";

export interface PackOptions {
  /** Default brotli (quality 11), the smallest; gzip is faster and everywhere. */
  codec?: CodecName;
  /**
   * LOSSY: cluster each float initializer of at least `minClusterElements` entries to
   * 2^clusterBits shared values (zeros stay zero) before packing. Omit for a lossless pack.
   */
  clusterBits?: number;
  minClusterElements?: number;
}

/**
 * Packs an ONNX model into the shipped form (@edgefleet/artifact's lossless `packModel`), after
 * weight sharing when `clusterBits` is given. Its codebook coding then finds the shared values
 * exactly, so the output is the same bytes as clustering inside the packer.
 */
export function packModel(onnxBytes: Uint8Array, opts: PackOptions = {}): Uint8Array {
  const { codec, clusterBits, minClusterElements = 1024 } = opts;
  if (clusterBits === undefined) return packLossless(onnxBytes, { codec });
  return packLossless(clusterInitializers(onnxBytes, clusterBits, minClusterElements), { codec });
}

function clusterInitializers(onnxBytes: Uint8Array, bits: number, minElements: number): Uint8Array {
  const model = decodeModel(onnxBytes);
  // Only tensors the packer codes: the rest stay exact in the skeleton, as they always did.
  for (const t of (model.graph?.initializer ?? []).filter(isPackableInitializer)) {
    const values = tensorToFloat32(t);
    if (values.length < minElements) continue;
    const { centroids, assignment } = clusterWeights(values, 2 ** bits);
    const shared = Float32Array.from(assignment, (a) => (a >= 0 ? centroids[a] : 0));
    t.rawData = new Uint8Array(shared.buffer);
    t.floatData = [];
  }
  return encodeModel(model);
}
