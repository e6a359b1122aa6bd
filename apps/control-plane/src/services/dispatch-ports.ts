// What the dispatch services need from the outside world, as small interfaces; NATS adapters
// live in ../nats/dispatch-stores.ts.
import type { DesiredState } from "@edgefleet/protocol";

/** Where devices read their desired state (KV `desired`). */
export interface DesiredStateStore {
  get(deviceId: string): Promise<DesiredState | null>;
  put(deviceId: string, state: DesiredState): Promise<void>;
  /** Removes the key and its history (a decommissioned device). */
  remove(deviceId: string): Promise<void>;
}

/** Where devices download artifacts (object store `artifacts`); the control plane only writes. */
export interface ArtifactStore {
  has(digest: string): Promise<boolean>;
  /** Stores the file at `path` under `digest` (already checked by the caller). */
  put(digest: string, path: string): Promise<void>;
  /** The whole object (small ones: canary sets), or null. */
  get(digest: string): Promise<Uint8Array | null>;
}

/** Tells a connected device that its desired state changed. */
export interface DeviceNotifier {
  desiredChanged(deviceId: string, generation: number): void;
}

/** Signs artifact manifests with the control plane's key. */
export interface ManifestSigner {
  keyId: string;
  publicKeyPem: string;
  sign(manifest: unknown): string;
}
