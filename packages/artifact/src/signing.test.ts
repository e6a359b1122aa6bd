import { sign } from "node:crypto";
import { type ArtifactManifest, MEDIA_TYPES } from "@edgefleet/protocol";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical-json";
import { ManifestInvalidError, ManifestSignatureError, SigningKeyError } from "./errors";
import { generateSigningKey, keyId, signManifest, verifySignedManifest } from "./signing";
import { manifestFor } from "./test-models";

const controlPlane = generateSigningKey();
const stranger = generateSigningKey();

const manifest = manifestFor(
  new Uint8Array([1, 2, 3]),
  MEDIA_TYPES.onnx,
  keyId(controlPlane.publicKeyPem),
);
const signature = signManifest(manifest, controlPlane.privateKeyPem);
/** The manifest as it arrives: JSON from the KV bucket. */
const wire = (m: unknown) => JSON.parse(JSON.stringify(m));
const edit = (change: (m: ArtifactManifest) => void) => {
  const m = wire(manifest);
  change(m);
  return m;
};

describe("keys", () => {
  it("generates PKCS#8 / SPKI PEMs; keyId is 16 hex of the SPKI DER's sha256", () => {
    expect(controlPlane.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(controlPlane.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(keyId(controlPlane.publicKeyPem)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyId(controlPlane.publicKeyPem)).toBe(keyId(controlPlane.publicKeyPem));
    expect(keyId(stranger.publicKeyPem)).not.toBe(keyId(controlPlane.publicKeyPem));
  });

  it.each([
    { name: "not a PEM", pem: "hello" },
    { name: "a private key where the public one is pinned", pem: controlPlane.privateKeyPem },
    {
      name: "a damaged PEM",
      pem: controlPlane.publicKeyPem.replace(/\n[A-Za-z0-9+/]{8}/, "\n!!!!!!!!"),
    },
  ])("keyId refuses $name", ({ pem }) => {
    expect(() => keyId(pem)).toThrow(SigningKeyError);
  });

  it("signing refuses a public key, and a manifest naming another key", () => {
    expect(() => signManifest(manifest, controlPlane.publicKeyPem)).toThrow(SigningKeyError);
    expect(() => signManifest(manifest, stranger.privateKeyPem)).toThrow(/keyId/);
  });

  it("signature is 64 bytes of base64 over the canonical JSON (key order does not matter)", () => {
    expect(Buffer.from(signature, "base64")).toHaveLength(64);
    const reordered = Object.fromEntries(Object.entries(wire(manifest)).reverse());
    expect(canonicalJson(reordered)).toBe(canonicalJson(manifest));
    expect(verifySignedManifest(reordered, signature, controlPlane.publicKeyPem)).toEqual(manifest);
  });
});

describe("verifySignedManifest", () => {
  const pinned = controlPlane.publicKeyPem;
  it("accepts the control plane's signed manifest", () => {
    expect(verifySignedManifest(wire(manifest), signature, pinned)).toEqual(manifest);
  });

  it("drops fields the schema does not know (and does not need them signed)", () => {
    const extra = { ...wire(manifest), note: "added in transit" };
    expect(verifySignedManifest(extra, signature, pinned)).toEqual(manifest);
  });

  it.each([
    { name: "not an object", json: "manifest", field: "(manifest)" },
    {
      name: "digest not hex",
      json: edit((m) => {
        m.digest = "xyz";
      }),
      field: "digest",
    },
    {
      name: "size missing",
      json: edit((m) => {
        delete (m as Partial<ArtifactManifest>).sizeBytes;
      }),
      field: "sizeBytes",
    },
    {
      name: "unknown media type",
      json: edit((m) => {
        (m as { mediaType: string }).mediaType = "text/plain";
      }),
      field: "mediaType",
    },
    {
      name: "quality above 1",
      json: edit((m) => {
        m.quality.value = 1.5;
      }),
      field: "quality.value",
    },
    {
      name: "schema 2",
      json: edit((m) => {
        (m as { schema: number }).schema = 2;
      }),
      field: "schema",
    },
  ])("invalid manifest: $name -> ManifestInvalidError($field)", ({ json, field }) => {
    let err: unknown;
    try {
      verifySignedManifest(json, signature, pinned);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ManifestInvalidError);
    expect((err as ManifestInvalidError).field).toBe(field);
    expect((err as Error).message).toContain(field === "(manifest)" ? "manifest" : field);
  });

  const resign = (m: ArtifactManifest, key = controlPlane.privateKeyPem) => signManifest(m, key);
  it.each([
    {
      name: "digest changed",
      json: edit((m) => {
        m.digest = "0".repeat(64);
      }),
      sig: signature,
      reason: "bad-signature",
    },
    {
      name: "quality.value changed",
      json: edit((m) => {
        m.quality.value = 0.99;
      }),
      sig: signature,
      reason: "bad-signature",
    },
    {
      name: "recipe changed",
      json: edit((m) => {
        m.variant.recipe.push({ op: "pack" });
      }),
      sig: signature,
      reason: "bad-signature",
    },
    {
      name: "signature of another manifest",
      json: wire(manifest),
      sig: resign(
        edit((m) => {
          m.issuedAt = "2026";
        }),
      ),
      reason: "bad-signature",
    },
    {
      name: "signed by another key that claims the pinned key's id",
      json: wire(manifest),
      // signManifest refuses this (keyId is not the key's), so sign by hand as an attacker would.
      sig: sign(null, Buffer.from(canonicalJson(manifest)), stranger.privateKeyPem).toString(
        "base64",
      ),
      reason: "bad-signature",
    },
    {
      name: "signed by another key, honestly named",
      json: edit((m) => {
        m.keyId = keyId(stranger.publicKeyPem);
      }),
      sig: resign({ ...manifest, keyId: keyId(stranger.publicKeyPem) }, stranger.privateKeyPem),
      reason: "wrong-key",
      message: `signed by key ${keyId(stranger.publicKeyPem)}, this device trusts ${keyId(pinned)}`,
    },
    {
      name: "names no key",
      json: edit((m) => {
        m.keyId = "";
      }),
      sig: signature,
      reason: "wrong-key",
    },
    { name: "signature missing", json: wire(manifest), sig: undefined, reason: "unsigned" },
    { name: "signature empty", json: wire(manifest), sig: "", reason: "unsigned" },
    { name: "signature not a string", json: wire(manifest), sig: 42, reason: "malformed" },
    {
      name: "signature not base64",
      json: wire(manifest),
      sig: `${signature.slice(0, -4)}$$$$`,
      reason: "malformed",
    },
    {
      name: "signature base64url",
      json: wire(manifest),
      sig: Buffer.from(signature, "base64").toString("base64url"),
      reason: "malformed",
    },
    {
      name: "signature cut short",
      json: wire(manifest),
      sig: signature.slice(0, 44),
      reason: "malformed",
    },
    {
      name: "signature one bit off",
      json: wire(manifest),
      sig: flipBit(signature),
      reason: "bad-signature",
    },
  ])("$name -> $reason", ({ json, sig, reason, message }) => {
    let err: unknown;
    try {
      verifySignedManifest(json, sig, pinned);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ManifestSignatureError);
    expect((err as ManifestSignatureError).reason).toBe(reason);
    if (message) expect((err as Error).message).toContain(message);
  });

  it("a damaged pinned key is a SigningKeyError, not a verdict on the manifest", () => {
    expect(() => verifySignedManifest(wire(manifest), signature, "nope")).toThrow(SigningKeyError);
  });
});

function flipBit(b64: string): string {
  const b = Buffer.from(b64, "base64");
  b[10] ^= 1;
  return b.toString("base64");
}
