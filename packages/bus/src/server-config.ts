// nats-server (2.9) configuration for the fleet's operator mode. Pure: returns text.
import type { FleetAuth } from "./fleet-auth";

export interface ServerConfigOptions {
  host: string;
  port: number;
  jetStreamDir: string;
  /** Monitoring port (/healthz, /varz); omitted when not set. */
  httpPort?: number;
  /** Required for JetStream clustering; defaults to nothing (the server picks its id). */
  serverName?: string;
  cluster?: { name: string; host?: string; port: number; routes: string[] };
  /** Largest message the server accepts (default 8 MiB: a small model travels in one request). */
  maxPayloadBytes?: number;
  /** Where the full resolver keeps account JWTs pushed at run time (default `<jetStreamDir>/jwt`). */
  resolverDir?: string;
  /** The fleet account JWT to preload (default the one without revocations in `auth`): pass the
   * current one, revocations included, so a restart never starts from a state without them. */
  fleetAccountJwt?: string;
  /** JetStream domain (edge sites, issue 11): `hub` at the hub, the site's name at a leaf. */
  jetStreamDomain?: string;
  /** Accept leaf-node servers (edge sites) on this port. */
  leafnodes?: LeafListen;
  /** Connect to a hub as a leaf node (an edge site's server). */
  leafRemotes?: LeafRemote[];
  /** Extra verbatim lines appended at the end (logging, limits). */
  extra?: string;
}

export interface LeafListen {
  host?: string;
  port: number;
  /**
   * host:port leaf nodes are told to reconnect to (the hub's gossip). Set it to what sites really
   * dial (a load balancer, a relay): otherwise a leaf learns the listen address and goes around it.
   */
  advertise?: string;
}

export interface LeafRemote {
  urls: string[];
  /** Path of the site user's `.creds` file. */
  credentials: string;
  /** Public key of the local account the link binds (the fleet account). */
  account: string;
}

const quote = (s: string) => JSON.stringify(s);

export function writeServerConfig(auth: FleetAuth, opts: ServerConfigOptions): string {
  const lines = [
    `host: ${quote(opts.host)}`,
    `port: ${opts.port}`,
    ...(opts.httpPort !== undefined ? [`http_port: ${opts.httpPort}`] : []),
    ...(opts.serverName ? [`server_name: ${quote(opts.serverName)}`] : []),
    `max_payload: ${opts.maxPayloadBytes ?? 8 * 1024 * 1024}`,
    `operator: ${quote(auth.operator.jwt)}`,
    `system_account: ${quote(auth.systemAccount.publicKey)}`,
    // The full resolver stores account JWTs that the system user pushes at run time
    // (`$SYS.REQ.CLAIMS.UPDATE`: revocations) and shares them across a cluster; the preload
    // seeds it. A newer pushed JWT wins over an older preload; the control plane re-pushes the
    // current one on every (re)connect in case a restart let the preload win.
    `resolver: { type: full, dir: ${quote(opts.resolverDir ?? `${opts.jetStreamDir}/jwt`)}, allow_delete: false }`,
    "resolver_preload: {",
    `  ${auth.systemAccount.publicKey}: ${quote(auth.systemAccount.jwt)}`,
    `  ${auth.fleetAccount.publicKey}: ${quote(opts.fleetAccountJwt ?? auth.fleetAccount.jwt)}`,
    "}",
    `jetstream: { store_dir: ${quote(opts.jetStreamDir)}${opts.jetStreamDomain ? `, domain: ${quote(opts.jetStreamDomain)}` : ""} }`,
    ...clusterBlock(opts.cluster),
    ...leafBlock(opts.leafnodes, opts.leafRemotes),
    ...(opts.extra ? [opts.extra] : []),
  ];
  return `${lines.join("\n")}\n`;
}

function clusterBlock(cluster: ServerConfigOptions["cluster"]): string[] {
  if (!cluster) return [];
  return [
    "cluster: {",
    `  name: ${quote(cluster.name)}`,
    `  listen: ${quote(`${cluster.host ?? "127.0.0.1"}:${cluster.port}`)}`,
    `  routes: [${cluster.routes.map(quote).join(", ")}]`,
    "}",
  ];
}

function leafBlock(listen?: LeafListen, remotes?: LeafRemote[]): string[] {
  if (!listen && !remotes?.length) return [];
  return [
    "leafnodes: {",
    ...(listen ? [`  listen: ${quote(`${listen.host ?? "127.0.0.1"}:${listen.port}`)}`] : []),
    ...(listen?.advertise ? [`  advertise: ${quote(listen.advertise)}`] : []),
    ...(remotes?.length
      ? [
          "  remotes: [",
          ...remotes.map(
            (r) =>
              `    { urls: [${r.urls.map(quote).join(", ")}], credentials: ${quote(r.credentials)}, account: ${quote(r.account)} }`,
          ),
          "  ]",
        ]
      : []),
    "}",
  ];
}
