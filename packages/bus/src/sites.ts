// Edge sites (issue 11): each site runs a leaf-node nats-server that its devices connect to. The
// leaf has its own JetStream domain (named after the site) where device telemetry and events are
// captured, so they are kept through an uplink outage; the hub sources them from there. The site
// also mirrors the hub's artifacts, so each artifact crosses the uplink once per site.
import { assertSubjectToken, OBJECT_STORES, STREAMS, subjects } from "@edgefleet/protocol";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { Algorithms, encodeUser } from "@nats-io/jwt";
import type { NatsConnection } from "@nats-io/transport-node";
import { formatCreds } from "./creds";
import { createUserKey, keyPairFromSeed } from "./fast-nkey";
import type { FleetAuth } from "./fleet-auth";
import { type ServerConfigOptions, writeServerConfig } from "./server-config";
import { objStreamName } from "./stores";
import { type FleetStreamConfig, fleetStreamConfigs, upsertStream } from "./streams";

/** The hub's JetStream domain when sites are configured. */
export const HUB_DOMAIN = "hub";

/** A site name becomes a JetStream domain and a subject token: letters, digits, `-`, `_`. */
export function assertSiteName(site: string): string {
  return assertSubjectToken(site, "site");
}

/** What a site may not send over its uplink live: device streams are buffered at the site. */
export function siteUplinkDeny(): string[] {
  return [subjects.anyTelemetry, subjects.anyEvents];
}

/**
 * The site server's user in the fleet account, for its leaf link to the hub. Everything may cross
 * but device telemetry and events, which the site's JetStream captures and the hub sources (a JWT
 * deny list takes effect only beside an allow list).
 */
export async function mintSiteCredentials(auth: FleetAuth, site: string): Promise<string> {
  const name = `site-${assertSiteName(site)}`;
  const key = createUserKey();
  const jwt = await encodeUser(
    name,
    key.publicKey,
    keyPairFromSeed(auth.fleetAccount.seed),
    { pub: { allow: [">"], deny: siteUplinkDeny() }, sub: { allow: [">"], deny: [] } },
    { algorithm: Algorithms.v2 },
  );
  return formatCreds(jwt, key.seed);
}

export interface SiteServerConfigOptions
  extends Omit<ServerConfigOptions, "jetStreamDomain" | "leafRemotes" | "leafnodes"> {
  site: string;
  /** The hub's leaf-node URLs, e.g. `nats-leaf://hub.example:7422`. */
  hubLeafUrls: string[];
  /** Path of the file holding `mintSiteCredentials`. */
  credentialsPath: string;
}

/** The site's nats-server config: the fleet operator, its own JetStream domain, a leaf link up. */
export function writeSiteServerConfig(auth: FleetAuth, opts: SiteServerConfigOptions): string {
  const { site, hubLeafUrls, credentialsPath, ...server } = opts;
  if (hubLeafUrls.length === 0) throw new RangeError("hubLeafUrls: at least one hub URL");
  return writeServerConfig(auth, {
    ...server,
    serverName: server.serverName ?? `site-${assertSiteName(site)}`,
    jetStreamDomain: site,
    leafRemotes: [
      { urls: hubLeafUrls, credentials: credentialsPath, account: auth.fleetAccount.publicKey },
    ],
  });
}

export interface SiteStreamsOptions {
  hubDomain?: string;
  replicas?: number;
}

/** Streams of a site's domain: TELEMETRY and EVENTS as at the hub, and a mirror of the artifacts. */
export function siteStreamConfigs(opts: SiteStreamsOptions = {}): FleetStreamConfig[] {
  const buffered = new Set<string>([STREAMS.telemetry.name, STREAMS.events.name]);
  const artifacts = objStreamName(OBJECT_STORES.artifacts);
  return [
    ...fleetStreamConfigs({ replicas: opts.replicas }).filter((c) => buffered.has(c.name)),
    {
      name: artifacts,
      storage: StorageType.File,
      num_replicas: opts.replicas ?? 1,
      mirror: {
        name: artifacts,
        external: { api: `$JS.${opts.hubDomain ?? HUB_DOMAIN}.API`, deliver: "" },
      },
      // Devices read chunks by direct get, from the site.
      allow_direct: true,
      // Object meta is written with a rollup header: a mirror refusing it stalls for good.
      allow_rollup_hdrs: true,
    },
  ];
}

/**
 * Creates or updates a site's streams through any connection that reaches the site's domain (the
 * control plane's at the hub, over the leaf link). Fails while the site is unreachable.
 */
export async function ensureSiteStreams(
  nc: NatsConnection,
  site: string,
  opts: SiteStreamsOptions & { timeoutMs?: number } = {},
) {
  const jsm = await jetstreamManager(nc, {
    domain: assertSiteName(site),
    timeout: opts.timeoutMs ?? 5_000,
  });
  const infos = [];
  for (const config of siteStreamConfigs(opts)) infos.push(await upsertStream(jsm, config));
  return infos;
}
