// Edge sites (issue 11): each site's streams (TELEMETRY, EVENTS, artifact mirror) are created
// through the hub once the site's leaf link is up; until then, and after any failure, retried
// with backoff in the background so the control plane never waits for a site.
import { backoffDelay, DEFAULT_BACKOFF, ensureSiteStreams } from "@edgefleet/bus";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";

export function keepSiteStreams(
  nc: NatsConnection,
  sites: string[],
  opts: { replicas?: number; logger: Logger },
): { stop(): void } {
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const attempt = async (site: string, n: number) => {
    if (stopped || nc.isClosed()) return;
    try {
      await ensureSiteStreams(nc, site, { replicas: opts.replicas });
      opts.logger.info({ site }, "site streams ready");
    } catch (err) {
      const delayMs = backoffDelay(n, DEFAULT_BACKOFF, Math.random());
      opts.logger.warn({ site, err: String(err), delayMs }, "site not reachable yet");
      const t = setTimeout(() => {
        timers.delete(t);
        void attempt(site, n + 1);
      }, delayMs);
      timers.add(t);
    }
  };
  for (const site of sites) void attempt(site, 0);
  return {
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
    },
  };
}
