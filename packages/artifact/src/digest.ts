import { createHash } from "node:crypto";
import { type ArtifactMediaType, MEDIA_TYPES } from "@edgefleet/protocol";
import { isPackedModel } from "./pack-format";

/** sha256 of the bytes, 64 lowercase hex digits (the manifest's `digest`). */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The media type the bytes are, by their first bytes: EFPK magic, else ONNX. ONNX protobuf has
 * no magic, so "ONNX" here means only "not packed"; the runtime is what finally parses it.
 */
export function mediaTypeOf(bytes: Uint8Array): ArtifactMediaType {
  return isPackedModel(bytes) ? MEDIA_TYPES.efpk : MEDIA_TYPES.onnx;
}
