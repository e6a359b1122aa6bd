// A model a device runs beside what it serves (a job's variant, a variant to calibrate): the
// signed manifest is verified against the key pinned at enrollment, the artifact comes from the
// local cache (downloaded from the object store into it when missing, its digest checked on the
// way) and is unpacked and checked against the manifest. A cached copy that fails the check is
// dropped, so the next try downloads it again.
import { openArtifact, verifySignedManifest } from "@edgefleet/artifact";
import type { ArtifactManifest } from "@edgefleet/protocol";
import { type FetchArtifact, type LocalStore, runDownload } from "./reconcile/local-store";

export interface VerifiedArtifactDeps {
  store: LocalStore;
  /** Digests the cache must not evict to make room (what serves, the last good one). */
  keep(): Set<string>;
  fetchArtifact: FetchArtifact;
}

export class ManifestRefusedError extends Error {
  override name = "ManifestRefusedError";
}

/** The manifest, if the control plane's key pinned at enrollment signed it. */
export function verifyManifest(
  pinnedKey: string | undefined,
  signedManifest: unknown,
  signature: string,
): ArtifactManifest {
  if (!pinnedKey) throw new ManifestRefusedError("no artifact signing key is pinned: enroll again");
  try {
    return verifySignedManifest(signedManifest, signature, pinnedKey);
  } catch (err) {
    throw new ManifestRefusedError(`manifest refused: ${(err as Error).message}`, { cause: err });
  }
}

/** The ONNX bytes of a verified manifest's artifact, through the local cache. */
export async function openCachedArtifact(
  deps: VerifiedArtifactDeps,
  manifest: ArtifactManifest,
): Promise<Uint8Array> {
  const { store } = deps;
  if (!store.cached().has(manifest.digest)) {
    const keep = deps.keep();
    keep.add(manifest.digest);
    await runDownload(store, deps.fetchArtifact, manifest.digest, manifest.sizeBytes, keep);
  }
  try {
    return (await openArtifact(await store.read(manifest.digest), manifest)).onnx;
  } catch (err) {
    await store.discard(manifest.digest);
    throw err;
  }
}
