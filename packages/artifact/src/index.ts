export * from "./canary";
export * from "./canonical-json";
export * from "./digest";
export * from "./errors";
export * from "./open-artifact";
export {
  inspectPacked,
  isPackableInitializer,
  isPackedModel,
  type PackedTensorInfo,
  type PackOptions,
  packModel,
  unpackModel,
} from "./pack";
export {
  Codec,
  type CodecName,
  Encoding,
  PACK_HEADER_BYTES,
  PACK_MAGIC,
  PACK_VERSION,
  type PackErrorCode,
  PackedModelError,
} from "./pack-format";
export * from "./signing";
