// Run-time account updates for the full resolver: the system user publishes an account JWT to
// `$SYS.REQ.CLAIMS.UPDATE`; the server checks the operator's signature, stores it and applies it
// (a revoked user's connections are closed at once) on every node of a cluster.
import type { NatsConnection } from "@nats-io/transport-node";
import { type ConnectBusOptions, connectBus } from "./connect";
import { formatCreds } from "./creds";
import type { FleetAuth } from "./fleet-auth";

export const CLAIMS_UPDATE_SUBJECT = "$SYS.REQ.CLAIMS.UPDATE";

export class AccountPushError extends Error {
  override name = "AccountPushError";
}

interface ClaimsReply {
  data?: { code?: number; message?: string; account?: string };
  error?: { code?: number; description?: string; account?: string };
}

/** What the server answered, as a result or an error. Pure, so tests can feed it text. */
export function parseClaimsReply(text: string): { account?: string; message: string } {
  let reply: ClaimsReply;
  try {
    reply = JSON.parse(text) as ClaimsReply;
  } catch (cause) {
    throw new AccountPushError(`account push: reply is not JSON: ${text.slice(0, 200)}`, { cause });
  }
  if (reply.error) {
    throw new AccountPushError(
      `account push refused (${reply.error.code ?? "?"}): ${reply.error.description ?? "no reason given"}`,
    );
  }
  if (!reply.data || (reply.data.code !== undefined && reply.data.code >= 300)) {
    throw new AccountPushError(`account push: unexpected reply ${text.slice(0, 200)}`);
  }
  return { account: reply.data.account, message: reply.data.message ?? "" };
}

/** Pushes an account JWT through a system-account connection; throws unless the server stored it. */
export async function pushAccountJwt(
  sys: NatsConnection,
  jwt: string,
  timeoutMs = 5_000,
): Promise<{ account?: string; message: string }> {
  const msg = await sys.request(CLAIMS_UPDATE_SUBJECT, new TextEncoder().encode(jwt), {
    timeout: timeoutMs,
  });
  return parseClaimsReply(new TextDecoder().decode(msg.data));
}

/** A connection as the fleet's system user (only for account pushes). */
export function connectSystem(
  auth: FleetAuth,
  opts: Omit<ConnectBusOptions, "creds" | "authenticator" | "name"> & { name?: string },
): Promise<NatsConnection> {
  return connectBus({
    ...opts,
    name: opts.name ?? "system",
    creds: formatCreds(auth.systemUser.jwt, auth.systemUser.seed),
  });
}
