// The control plane's Ed25519 key that signs artifact manifests, kept in its state dir (0600).
// Devices receive the public half at enrollment and trust nothing else, so losing this file means
// re-enrolling the fleet: back it up with fleet-auth.json.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { generateSigningKey, keyId, signManifest } from "@edgefleet/artifact";
import { createFileAtomic } from "@edgefleet/bus";
import type { ArtifactManifest } from "@edgefleet/protocol";
import type { ManifestSigner } from "./services/dispatch-ports";

export const SIGNING_KEY_FILE = "artifact-signing-key.json";

export class SigningKeyFileError extends Error {
  override name = "SigningKeyFileError";
}

export async function loadOrCreateSigner(stateDir: string): Promise<ManifestSigner> {
  const path = join(stateDir, SIGNING_KEY_FILE);
  let text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (text === undefined) {
    const fresh = generateSigningKey();
    // Two processes starting together must agree on one key.
    await createFileAtomic(path, `${JSON.stringify({ version: 1, ...fresh }, null, 2)}\n`);
    text = await readFile(path, "utf8");
  }
  let key: { version?: number; privateKeyPem?: string; publicKeyPem?: string };
  try {
    key = JSON.parse(text);
  } catch (cause) {
    throw new SigningKeyFileError(`${path}: not valid JSON`, { cause });
  }
  if (key.version !== 1 || !key.privateKeyPem || !key.publicKeyPem) {
    throw new SigningKeyFileError(`${path}: want {version: 1, privateKeyPem, publicKeyPem}`);
  }
  const { privateKeyPem, publicKeyPem } = key;
  return {
    keyId: keyId(publicKeyPem),
    publicKeyPem,
    sign: (manifest) => signManifest(manifest as ArtifactManifest, privateKeyPem),
  };
}
