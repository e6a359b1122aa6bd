import { createHash, randomBytes } from "node:crypto";

/** A bearer secret: 32 random bytes, base64url (43 characters). Shown once, never stored. */
export function generateSecret(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * sha256 hex of a secret. A plain fast hash is enough here: the secrets are 256-bit random
 * tokens, not passwords, so there is nothing to brute-force and no need for a slow KDF or salt.
 * Lookups go by this hash through a unique index, so no constant-time comparison is needed either.
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}
