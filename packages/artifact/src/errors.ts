/** A manifest that does not match artifactManifestSchema; `field` is the first one wrong. */
export class ManifestInvalidError extends Error {
  override name = "ManifestInvalidError";
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type ManifestSignatureReason = "unsigned" | "malformed" | "wrong-key" | "bad-signature";

/** A manifest this device must not trust; `reason` says why. */
export class ManifestSignatureError extends Error {
  override name = "ManifestSignatureError";
  constructor(
    readonly reason: ManifestSignatureReason,
    message: string,
  ) {
    super(message);
  }
}

/** A PEM that is not the kind of Ed25519 key asked for. */
export class SigningKeyError extends Error {
  override name = "SigningKeyError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Artifact bytes that are not the ones the manifest describes (damaged, cut short, swapped). */
export class ArtifactDigestError extends Error {
  override name = "ArtifactDigestError";
  constructor(
    readonly field: "sizeBytes" | "digest",
    readonly expected: string,
    readonly actual: string,
    message: string,
  ) {
    super(message);
  }
}

/** The bytes are of another format than the manifest says (e.g. ONNX where it says EFPK). */
export class ArtifactMediaTypeError extends Error {
  override name = "ArtifactMediaTypeError";
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`the artifact is ${actual}, the manifest says ${expected}`);
  }
}
