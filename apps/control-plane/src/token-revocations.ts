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
