import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import {
  type ArtifactManifest,
  artifactManifestSchema,
  describeZodError,
} from "@edgefleet/protocol";
import { CanonicalJsonError, canonicalJson } from "./canonical-json";
import { ManifestInvalidError, ManifestSignatureError, SigningKeyError } from "./errors";

export interface SigningKey {
  /** PKCS#8 PEM: stays with the control plane. */
  privateKeyPem: string;
  /** SPKI PEM: what devices pin at enrollment. */
  publicKeyPem: string;
}

const ED25519_SIGNATURE_BYTES = 64;

export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** First 16 hex digits of sha256 of the key's SPKI DER: names the key in manifests, so keys can rotate. */
export function keyId(publicKeyPem: string): string {
  return pinned(publicKeyPem).id;
}

/**
 * Signs the manifest (which holds the artifact's digest, so the artifact itself needs no
 * signature) over its canonical JSON; returns the base64 signature. The manifest is read through
 * the schema first, exactly as a device reads it, so nothing is signed that a device would not
 * see or would refuse; and its keyId must be this key's, or no device could ever accept it.
 */
export function signManifest(manifest: ArtifactManifest, privateKeyPem: string): string {
  const parsed = parseManifest(manifest);
  const key = privateKeyFrom(privateKeyPem);
  const id = idOf(createPublicKey(key));
  if (parsed.keyId !== id) {
    throw new ManifestInvalidError(
      "keyId",
      `manifest.keyId is ${JSON.stringify(parsed.keyId)} but the signing key's id is ${id}`,
    );
  }
  return sign(null, signedBytes(parsed), key).toString("base64");
}

/**
 * What a device runs before it trusts anything in a manifest: the schema (ManifestInvalidError
 * naming the field), then that it names the pinned key, then the Ed25519 signature
 * (ManifestSignatureError; an unsigned manifest is refused too). Returns the manifest as the
 * schema reads it: fields the schema does not know are dropped, and they are not signed either.
 */
export function verifySignedManifest(
  manifestJson: unknown,
  signatureB64: unknown,
  publicKeyPem: string,
): ArtifactManifest {
  const manifest = parseManifest(manifestJson);
  const { key, id: trusted } = pinned(publicKeyPem);
  if (manifest.keyId !== trusted) {
    const by = manifest.keyId === "" ? "names no signing key" : `signed by key ${manifest.keyId}`;
    throw new ManifestSignatureError("wrong-key", `manifest ${by}, this device trusts ${trusted}`);
  }
  if (!verify(null, signedBytes(manifest), key, signatureBytes(signatureB64))) {
    throw new ManifestSignatureError(
      "bad-signature",
      "manifest signature does not verify: the manifest was changed after signing",
    );
  }
  return manifest;
}

function parseManifest(value: unknown): ArtifactManifest {
  const parsed = artifactManifestSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const path = parsed.error.issues[0]?.path ?? [];
  const field = path.length ? path.join(".") : "(manifest)";
  throw new ManifestInvalidError(field, `manifest: ${describeZodError(parsed.error)}`, {
    cause: parsed.error,
  });
}

function signedBytes(manifest: ArtifactManifest): Buffer {
  try {
    return Buffer.from(canonicalJson(manifest), "utf8");
  } catch (err) {
    // Only the free-form parts (recipe, fidelity) can hold such values, and only in memory.
    if (!(err instanceof CanonicalJsonError)) throw err;
    throw new ManifestInvalidError(err.path.replace(/^\$\.?/, ""), `manifest: ${err.message}`, {
      cause: err,
    });
  }
}

function signatureBytes(signature: unknown): Buffer {
  const malformed = (why: string) => new ManifestSignatureError("malformed", `manifest ${why}`);
  if (signature === undefined || signature === null || signature === "") {
    throw new ManifestSignatureError(
      "unsigned",
      "manifest is unsigned: this device runs nothing unsigned",
    );
  }
  if (typeof signature !== "string")
    throw malformed(`signature is a ${typeof signature}, not base64`);
  const bytes = Buffer.from(signature, "base64");
  // Buffer skips characters that are not base64; re-encoding shows whether any were there.
  if (bytes.toString("base64") !== signature) throw malformed("signature is not base64");
  if (bytes.length !== ED25519_SIGNATURE_BYTES) {
    throw malformed(`signature is ${bytes.length} bytes, an Ed25519 signature is 64`);
  }
  return bytes;
}

function idOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("hex").slice(0, 16);
}

/** Parsed public keys and their ids: a device checks every manifest against the same pinned key. */
const publicKeys = new Map<string, { key: KeyObject; id: string }>();

function pinned(pem: string): { key: KeyObject; id: string } {
  const known = publicKeys.get(pem);
  if (known) return known;
  // createPublicKey would also derive a public key from a private PEM: a device holding the
  // control plane's private key is a mistake to report, not to work around.
  if (typeof pem !== "string" || !pem.includes("-----BEGIN PUBLIC KEY-----")) {
    throw new SigningKeyError("the public key is not an SPKI PEM (-----BEGIN PUBLIC KEY-----)");
  }
  const key = ed25519(() => createPublicKey(pem), "public");
  const entry = { key, id: idOf(key) };
  if (publicKeys.size >= 64) publicKeys.clear();
  publicKeys.set(pem, entry);
  return entry;
}

function privateKeyFrom(pem: string): KeyObject {
  if (typeof pem !== "string" || !pem.includes("-----BEGIN PRIVATE KEY-----")) {
    throw new SigningKeyError("the private key is not a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)");
  }
  return ed25519(() => createPrivateKey(pem), "private");
}

function ed25519(load: () => KeyObject, kind: "public" | "private"): KeyObject {
  let key: KeyObject;
  try {
    key = load();
  } catch (cause) {
    throw new SigningKeyError(`the ${kind} key PEM does not parse`, { cause });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new SigningKeyError(`the ${kind} key is ${key.asymmetricKeyType}, not Ed25519`);
  }
  return key;
}
