// API token revocations for open connections (WebSocket streams, gRPC watches), fanned out over
// NATS: a token revoked on one replica closes its streams on every replica.
import { decodeJson, encodeJson } from "@edgefleet/protocol";
import { z } from "zod";
import { Fanout } from "./fanout";

const revocationSchema = z.object({
  tokenId: z.string().min(1).max(64),
  reason: z.enum(["revoked", "expired"]),
});
export type Revocation = z.infer<typeof revocationSchema>;
export type RevocationListener = (revocation: Revocation) => void;

export class TokenRevocations extends Fanout<Revocation> {
  constructor() {
    super({ encode: encodeJson, decode: (data) => decodeJson(revocationSchema, data) });
  }
}

/** setTimeout's limit; a later expiry is re-checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `onEnd` once, when the principal's token is revoked (on any replica) or expires: what
 * every open stream of a token (WebSocket, gRPC watch) needs. Returns the function that stops
 * watching (call it when the stream ends for another reason).
 */
export function watchTokenEnd(
  principal: { tokenId: string; expiresAt?: Date | null },
  revocations: TokenRevocations | undefined,
  onEnd: (reason: Revocation["reason"]) => void,
): () => void {
  let expiry: NodeJS.Timeout | undefined;
  let ended = false;
  const stop = () => {
    ended = true;
    unsubscribe?.();
    clearTimeout(expiry);
  };
  const end = (reason: Revocation["reason"]) => {
    if (ended) return;
    stop();
    onEnd(reason);
  };
  const unsubscribe = revocations?.subscribe((r) => {
    if (r.tokenId === principal.tokenId) end(r.reason);
  });
  const armExpiry = () => {
    if (!principal.expiresAt) return;
    const left = principal.expiresAt.getTime() - Date.now();
    if (left <= 0) return end("expired");
    expiry = setTimeout(armExpiry, Math.min(left, MAX_TIMER_MS));
    expiry.unref();
  };
  armExpiry();
  return stop;
}
