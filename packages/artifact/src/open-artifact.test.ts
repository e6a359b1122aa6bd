import { MEDIA_TYPES } from "@edgefleet/protocol";
import { describe, expect, it } from "vitest";
import { mediaTypeOf, sha256Hex } from "./digest";
import { ArtifactDigestError, ArtifactMediaTypeError } from "./errors";
import { openArtifact } from "./open-artifact";
import { packModel } from "./pack";
import { PackedModelError } from "./pack-format";
import { generateSigningKey, keyId, signManifest, verifySignedManifest } from "./signing";
import { manifestFor, mlpOnnx } from "./test-models";

const onnx = mlpOnnx([32, 16, 4], 1, 0.3);
const efpk = packModel(onnx, { codec: "gzip" });
const kid = "0123456789abcdef";

describe("sha256Hex / mediaTypeOf", () => {
  it.each([
    {
      bytes: new Uint8Array(0),
      sha: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      media: MEDIA_TYPES.onnx,
    },
    {
      bytes: new TextEncoder().encode("abc"),
      sha: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      media: MEDIA_TYPES.onnx,
    },
    { bytes: new TextEncoder().encode("EFP"), sha: undefined, media: MEDIA_TYPES.onnx },
    { bytes: efpk, sha: undefined, media: MEDIA_TYPES.efpk },
    { bytes: onnx, sha: undefined, media: MEDIA_TYPES.onnx },
  ])("$media for $bytes.length bytes", ({ bytes, sha, media }) => {
    if (sha) expect(sha256Hex(bytes)).toBe(sha);
    expect(sha256Hex(bytes)).toMatch(/^[0-9a-f]{64}$/);
    expect(mediaTypeOf(bytes)).toBe(media);
  });
});

describe("openArtifact", () => {
  it("signed manifest -> verified -> opened, for EFPK and for ONNX", async () => {
    const key = generateSigningKey();
    for (const [bytes, media] of [
      [efpk, MEDIA_TYPES.efpk],
      [onnx, MEDIA_TYPES.onnx],
    ] as const) {
      const m = manifestFor(bytes, media, keyId(key.publicKeyPem));
      const sig = signManifest(m, key.privateKeyPem);
      const trusted = verifySignedManifest(JSON.parse(JSON.stringify(m)), sig, key.publicKeyPem);
      const opened = await openArtifact(bytes, trusted);
      expect(opened).toEqual({ onnx, packed: media === MEDIA_TYPES.efpk });
    }
  });

  const flip = (b: Uint8Array, at: number) => {
    const c = b.slice();
    c[at] ^= 0x01;
    return c;
  };
  it.each([
    {
      name: "one EFPK byte corrupted",
      bytes: flip(efpk, efpk.length >> 1),
      manifest: manifestFor(efpk, MEDIA_TYPES.efpk, kid),
      error: ArtifactDigestError,
      message: `the manifest's ${sha256Hex(efpk).slice(0, 12)}…`,
    },
    {
      name: "one ONNX byte corrupted",
      bytes: flip(onnx, 100),
      manifest: manifestFor(onnx, MEDIA_TYPES.onnx, kid),
      error: ArtifactDigestError,
      message: `artifact sha256 ${sha256Hex(flip(onnx, 100)).slice(0, 12)}…`,
    },
    {
      name: "truncated download",
      bytes: efpk.subarray(0, efpk.length - 1),
      manifest: manifestFor(efpk, MEDIA_TYPES.efpk, kid),
      error: ArtifactDigestError,
      message: `artifact is ${efpk.length - 1} bytes, the manifest says ${efpk.length}`,
    },
    {
      name: "another artifact of the same size",
      bytes: packModel(mlpOnnx([32, 16, 4], 2, 0.3), { codec: "none" }).subarray(0, efpk.length),
      manifest: manifestFor(efpk, MEDIA_TYPES.efpk, kid),
      error: ArtifactDigestError,
      message: "does not match",
    },
    {
      name: "manifest says EFPK, bytes are ONNX",
      bytes: onnx,
      manifest: manifestFor(onnx, MEDIA_TYPES.efpk, kid),
      error: ArtifactMediaTypeError,
      message: "the artifact is application/onnx, the manifest says application/vnd.edgefleet.efpk",
    },
    {
      name: "manifest says ONNX, bytes are EFPK",
      bytes: efpk,
      manifest: manifestFor(efpk, MEDIA_TYPES.onnx, kid),
      error: ArtifactMediaTypeError,
      message: "the artifact is application/vnd.edgefleet.efpk",
    },
    {
      // The digest covers the payload, so only a manifest signed over damaged bytes gets here.
      name: "EFPK damaged before it was signed",
      bytes: flip(efpk, efpk.length - 3),
      manifest: manifestFor(flip(efpk, efpk.length - 3), MEDIA_TYPES.efpk, kid),
      error: PackedModelError,
      message: "CRC-32",
    },
  ])("$name -> $error.name", async ({ bytes, manifest, error, message }) => {
    await expect(openArtifact(bytes, manifest)).rejects.toThrow(error);
    await expect(openArtifact(bytes, manifest)).rejects.toThrow(message);
  });

  it("digest errors carry the full expected and actual values", async () => {
    const bad = flip(onnx, 7);
    try {
      await openArtifact(bad, manifestFor(onnx, MEDIA_TYPES.onnx, kid));
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({
        field: "digest",
        expected: sha256Hex(onnx),
        actual: sha256Hex(bad),
      });
    }
  });
});
