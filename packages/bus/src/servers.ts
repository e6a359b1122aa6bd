// NATS server lists as an operator writes them (`NATS_URL=nats://a:4222,nats://b:4222`): one
// parser for every app, so a client given a cluster's nodes fails over between them.

export class NatsServersError extends Error {
  override name = "NatsServersError";
}

const SCHEMES = new Set(["nats:", "tls:", "ws:", "wss:"]);

/**
 * Comma-separated NATS URLs (or `host:port`) -> a list, trimmed, without duplicates. Throws,
 * naming `field`, on an empty list or an entry that is not a NATS URL.
 */
export function natsServers(text: string, field = "NATS_URL"): string[] {
  const entries = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new NatsServersError(`${field}: no NATS server given`);
  for (const entry of entries) {
    const withScheme = entry.includes("://") ? entry : `nats://${entry}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new NatsServersError(`${field}: "${entry}" is not a NATS URL`);
    }
    if (!SCHEMES.has(url.protocol) || !url.hostname) {
      throw new NatsServersError(
        `${field}: "${entry}" is not a NATS URL (nats://host:port or host:port)`,
      );
    }
  }
  return [...new Set(entries)];
}
