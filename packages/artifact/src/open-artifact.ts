import { type ArtifactManifest, MEDIA_TYPES } from "@edgefleet/protocol";
import { mediaTypeOf, sha256Hex } from "./digest";
import { ArtifactDigestError, ArtifactMediaTypeError } from "./errors";

export interface OpenedArtifact {
  /** The ONNX model to load. */
  onnx: Uint8Array;
  /** The artifact was EFPK and has been unpacked. */
  packed: boolean;
}

/**
 * Downloaded bytes -> the ONNX model to run, for a manifest that verifySignedManifest accepted.
 * The bytes must be exactly those the manifest describes (size, then sha256: the signature covers
 * the manifest, the digest ties the artifact to it) and of its media type. Any failure throws
 * (ArtifactDigestError, ArtifactMediaTypeError, PackedModelError); there is no partial result.
 * The EFPK reader (and the ONNX protobuf schema it needs, ~7 MB of heap) is loaded only when an
 * artifact is packed: a device serving plain ONNX never holds it.
 */
export async function openArtifact(
  bytes: Uint8Array,
  manifest: ArtifactManifest,
): Promise<OpenedArtifact> {
  // Size first: a cut-short download is the common failure, and it needs no hashing.
  if (bytes.length !== manifest.sizeBytes) {
    throw new ArtifactDigestError(
      "sizeBytes",
      String(manifest.sizeBytes),
      String(bytes.length),
      `artifact is ${bytes.length} bytes, the manifest says ${manifest.sizeBytes}`,
    );
  }
  const actual = sha256Hex(bytes);
  if (actual !== manifest.digest) {
    throw new ArtifactDigestError(
      "digest",
      manifest.digest,
      actual,
      `artifact sha256 ${short(actual)} does not match the manifest's ${short(manifest.digest)}`,
    );
  }
  const sniffed = mediaTypeOf(bytes);
  if (sniffed !== manifest.mediaType) throw new ArtifactMediaTypeError(manifest.mediaType, sniffed);
  if (sniffed === MEDIA_TYPES.efpk) {
    const { unpackModel } = await import("./pack");
    return { onnx: unpackModel(bytes), packed: true };
  }
  return { onnx: bytes, packed: false };
}

function short(hex: string): string {
  return `${hex.slice(0, 12)}…`;
}
