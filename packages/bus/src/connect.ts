// Connecting to the bus: reconnect forever with jittered backoff, log connection changes,
// close by draining so nothing already accepted is dropped.
import { subjects } from "@edgefleet/protocol";
import {
  type Authenticator,
  connect,
  credsAuthenticator,
  type NatsConnection,
  type Status,
} from "@nats-io/transport-node";
import { type BackoffPolicy, DEFAULT_BACKOFF, ReconnectBackoff } from "./backoff";
import { keyPairFromSeed } from "./fast-nkey";

/** The subset of pino (or console-like) logging we use: `(fields, message)`. */
export interface BusLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent: BusLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface ConnectBusOptions {
  servers: string | string[];
  /** Content of a `.creds` file (JWT + seed). */
  creds?: string | Uint8Array;
  /** Any nats.js authenticator; wins over `creds`. */
  authenticator?: Authenticator;
  /** Connection name, shown by the server's /connz. */
  name: string;
  inboxPrefix?: string;
  logger?: BusLogger;
  backoff?: BackoffPolicy;
  /** Only for the first connect: how long to wait for a server (default 5 s). */
  timeoutMs?: number;
  /**
   * Keep reconnecting after the server refuses the credentials twice in a row (nats.js gives up
   * by default). For JWTs that expire and get renewed: the next attempt may carry a new one.
   */
  retryAuthErrors?: boolean;
}

export class BusConnectError extends Error {
  override name = "BusConnectError";
}

function pickAuthenticator(opts: ConnectBusOptions): Authenticator | undefined {
  if (opts.authenticator) return opts.authenticator;
  if (opts.creds === undefined) return undefined;
  const bytes = typeof opts.creds === "string" ? new TextEncoder().encode(opts.creds) : opts.creds;
  return credsAuthenticator(bytes);
}

export async function connectBus(opts: ConnectBusOptions): Promise<NatsConnection> {
  const logger = opts.logger ?? silent;
  const backoff = new ReconnectBackoff(opts.backoff ?? DEFAULT_BACKOFF);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: opts.servers,
      name: opts.name,
      authenticator: pickAuthenticator(opts),
      inboxPrefix: opts.inboxPrefix,
      timeout: opts.timeoutMs ?? 5_000,
      // nats.js otherwise captures a stack trace for every request up front, in case it fails:
      // a rollout's thousands of KV direct gets paid ~8 % of the control plane's CPU for it.
      noAsyncTraces: true,
      maxReconnectAttempts: -1,
      ignoreAuthErrorAbort: opts.retryAuthErrors ?? false,
      reconnectDelayHandler: () => backoff.delay(),
      reconnectToServer: () => {
        backoff.onDial();
        return null;
      },
    });
  } catch (cause) {
    const servers = [opts.servers].flat().join(",");
    throw new BusConnectError(`cannot connect to NATS at ${servers}: ${String(cause)}`, { cause });
  }
  backoff.reset();
  logger.info({ server: nc.getServer(), name: opts.name }, "nats connected");
  void watchStatus(nc, logger, () => backoff.reset());
  return nc;
}

async function watchStatus(nc: NatsConnection, logger: BusLogger, onReconnect: () => void) {
  for await (const s of nc.status()) {
    logStatus(logger, s);
    if (s.type === "reconnect") onReconnect();
  }
}

function logStatus(logger: BusLogger, s: Status): void {
  switch (s.type) {
    case "disconnect":
      logger.warn({ server: s.server }, "nats disconnected");
      break;
    case "reconnect":
      logger.info({ server: s.server }, "nats reconnected");
      break;
    case "error":
      logger.warn({ err: s.error }, "nats error");
      break;
    case "ldm":
      logger.warn({ server: s.server }, "nats server entering lame duck mode");
      break;
    case "staleConnection":
    case "slowConsumer":
      logger.warn({ status: s.type }, "nats connection trouble");
      break;
    case "reconnecting":
      logger.debug({}, "nats reconnecting");
      break;
    default:
      break;
  }
}

export interface ConnectDeviceOptions
  extends Omit<ConnectBusOptions, "creds" | "authenticator" | "inboxPrefix" | "name"> {
  deviceId: string;
  /** The user JWT, or a function read at every (re)connect: a renewed JWT is used from then on. */
  jwt: string | (() => string);
  /** The device's own user nkey seed (`SU...`). */
  seed: string | Uint8Array;
  /** The seed's public key (`U...`) if kept beside it: saves deriving it (see keyPairFromSeed). */
  publicKey?: string;
  name?: string;
}

/**
 * A device connection. Its inbox lives under `_INBOX.<deviceId>`, the only inbox its
 * permissions let it subscribe to, so its requests get their replies.
 */
export function connectDevice(opts: ConnectDeviceOptions): Promise<NatsConnection> {
  return connectBus({
    ...opts,
    name: opts.name ?? `device-${opts.deviceId}`,
    authenticator: userJwtAuthenticator(opts.jwt, opts.seed, opts.publicKey),
    inboxPrefix: subjects.inboxPrefix(opts.deviceId),
    // A JWT read at every reconnect may be renewed while the server refuses the expired one.
    retryAuthErrors: opts.retryAuthErrors ?? typeof opts.jwt === "function",
  });
}

/**
 * What nats.js's `jwtAuthenticator` sends (the JWT, the public nkey, the nonce's Ed25519
 * signature in base64), signed by node:crypto: nats.js derives the key pair again in JavaScript
 * at every connect, ~40 ms of CPU, which a process holding thousands of devices cannot afford.
 */
export function userJwtAuthenticator(
  jwt: string | (() => string),
  seed: string | Uint8Array,
  publicKey?: string,
): Authenticator {
  const text = typeof seed === "string" ? seed : new TextDecoder().decode(seed);
  const kp = keyPairFromSeed(text, publicKey);
  const nkey = kp.getPublicKey();
  const encoder = new TextEncoder();
  return (nonce?: string) => ({
    jwt: typeof jwt === "function" ? jwt() : jwt,
    nkey,
    sig: nonce ? Buffer.from(kp.sign(encoder.encode(nonce))).toString("base64") : "",
  });
}

/** Drains (flushes subscriptions and pending publishes) and waits until closed; idempotent. */
export async function closeBus(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  if (!nc.isDraining()) {
    try {
      await nc.drain();
    } catch {
      // Drain fails when the connection is already gone; closing is still what we want.
      await nc.close();
    }
  }
  await nc.closed();
}
