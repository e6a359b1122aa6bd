// How a device proves, without a token, that it still holds the key it enrolled with: an Ed25519
// signature by its user nkey over `<deviceId>:<unix seconds>`, accepted within a clock window.
// Pure (node:crypto only), shared by the agent that signs and the control plane that checks.
import { keyPairFromSeed, verifyUserSignature } from "./fast-nkey";

/** How far the device's clock may be from the control plane's. */
export const RENEWAL_MAX_SKEW_SECONDS = 300;

export function renewalProofPayload(deviceId: string, timestamp: number): Uint8Array {
  return new TextEncoder().encode(`${deviceId}:${timestamp}`);
}

export function signRenewalProof(
  seed: string,
  deviceId: string,
  nowMs = Date.now(),
): { deviceId: string; timestamp: number; signature: Uint8Array } {
  const timestamp = Math.floor(nowMs / 1000);
  const signature = keyPairFromSeed(seed).sign(renewalProofPayload(deviceId, timestamp));
  return { deviceId, timestamp, signature };
}

export type RenewalProofCheck = { ok: true } | { ok: false; reason: "clock" | "signature" };

export function checkRenewalProof(proof: {
  publicKey: string;
  deviceId: string;
  timestamp: number;
  signature: Uint8Array;
  nowMs: number;
  maxSkewSeconds?: number;
}): RenewalProofCheck {
  const skew = Math.abs(Math.floor(proof.nowMs / 1000) - proof.timestamp);
  if (!Number.isFinite(skew) || skew > (proof.maxSkewSeconds ?? RENEWAL_MAX_SKEW_SECONDS)) {
    return { ok: false, reason: "clock" };
  }
  const payload = renewalProofPayload(proof.deviceId, proof.timestamp);
  return verifyUserSignature(proof.publicKey, payload, proof.signature)
    ? { ok: true }
    : { ok: false, reason: "signature" };
}
