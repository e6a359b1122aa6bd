import { createHash } from "node:crypto";
import { type ArtifactMediaType, MEDIA_TYPES } from "@edgefleet/protocol";
import { isCanarySet } from "./canary";
import { isPackedModel } from "./pack-format";

/** sha256 of the bytes, 64 lowercase hex digits (the manifest's `digest`). */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The media type the bytes are, by their first bytes: EFPK or EFCS magic, else ONNX. ONNX
 * protobuf has no magic, so "ONNX" here means only "neither"; the runtime is what finally parses
 * it.
 */
export function mediaTypeOf(bytes: Uint8Array): ArtifactMediaType {
  if (isPackedModel(bytes)) return MEDIA_TYPES.efpk;
  if (isCanarySet(bytes)) return MEDIA_TYPES.canary;
  return MEDIA_TYPES.onnx;
}
