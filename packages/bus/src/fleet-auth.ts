// Decentralized NATS identity for the fleet: one operator, a system account, and the fleet
// account whose scoped signing key mints device users. Pure: no file or network IO here.

import { assertSubjectToken, KV_BUCKETS, OBJECT_STORES, SUBJECT_PREFIX } from "@edgefleet/protocol";
import {
  Algorithms,
  decode,
  encodeAccount,
  encodeOperator,
  encodeUser,
  newScopedSigner,
  type SigningKey,
  type User,
  type UserPermissionsLimits,
} from "@nats-io/jwt";
import {
  createAccount,
  createOperator,
  createUser,
  fromPublic,
  type KeyPair,
} from "@nats-io/nkeys";
import { createUserKey, keyPairFromSeed } from "./fast-nkey";
import { kvStreamName, objStreamName } from "./stores";

/** A key pair kept as text so it can be persisted; `seed` is the secret. */
export interface NkeyText {
  publicKey: string;
  seed: string;
}

export interface FleetAuth {
  operator: NkeyText & { jwt: string };
  systemAccount: NkeyText & { jwt: string };
  fleetAccount: NkeyText & { jwt: string; deviceSigningKey: NkeyText };
  /** Full-permission user of the fleet account, used by the control plane. */
  controlPlane: NkeyText & { jwt: string };
  /** User of the system account: pushes account JWTs (revocations) to a full resolver. */
  systemUser: NkeyText & { jwt: string };
}

/** Only the secrets; every JWT can be re-issued from them. */
export interface FleetSeeds {
  operator: string;
  systemAccount: string;
  fleetAccount: string;
  deviceSigningKey: string;
  controlPlane: string;
  /** Absent in seeds written before the full resolver: a new one is made then. */
  systemUser?: string;
}

export interface DeviceCredentials {
  deviceId: string;
  publicKey: string;
  jwt: string;
}

export class InvalidDeviceKeyError extends Error {
  override name = "InvalidDeviceKeyError";
  readonly field = "publicKey";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export class InvalidFleetSeedError extends Error {
  override name = "InvalidFleetSeedError";
  constructor(
    readonly field: keyof FleetSeeds,
    options?: ErrorOptions,
  ) {
    super(`fleet seed ${field} is not a valid nkey seed of the expected kind`, options);
  }
}

export const OPERATOR_NAME = "edgefleet";
export const SYSTEM_ACCOUNT_NAME = "SYS";
export const FLEET_ACCOUNT_NAME = "FLEET";
export const DEVICE_ROLE = "device";
export const CONTROL_PLANE_USER_NAME = "control-plane";
export const SYSTEM_USER_NAME = "sys-admin";

/**
 * What every device user may do; the server expands `{{name()}}` to the user JWT's name,
 * which we set to the device id, so one signing key serves the whole fleet.
 */
export function deviceTemplate(): Partial<UserPermissionsLimits> {
  const self = "{{name()}}";
  return {
    pub: {
      allow: [
        `${SUBJECT_PREFIX}.dev.${self}.>`,
        // Its own desired state, by direct get of its one KV key: the subject names the key, so
        // no other device's key can be asked for, and no consumer is left on the server.
        `$JS.API.DIRECT.GET.${kvStreamName(KV_BUCKETS.desired)}.$KV.${KV_BUCKETS.desired}.${self}`,
        // Artifacts, read by direct get (object info by its meta subject, then chunks by
        // next_by_subj). Read-only: no consumer can be created, so a device cannot make the
        // server deliver stream messages onto another device's subjects either.
        `$JS.API.DIRECT.GET.${objStreamName(OBJECT_STORES.artifacts)}`,
        `$JS.API.DIRECT.GET.${objStreamName(OBJECT_STORES.artifacts)}.>`,
        // The same reads in a named JetStream domain (edge sites, issue 11): desired state from
        // the hub, artifacts from the site's mirror.
        `$JS.*.API.DIRECT.GET.${kvStreamName(KV_BUCKETS.desired)}.$KV.${KV_BUCKETS.desired}.${self}`,
        `$JS.*.API.DIRECT.GET.${objStreamName(OBJECT_STORES.artifacts)}`,
        `$JS.*.API.DIRECT.GET.${objStreamName(OBJECT_STORES.artifacts)}.>`,
        // Pipeline peers (issue 9): to anyone, but always stamped as itself (<to>.<from>).
        `${SUBJECT_PREFIX}.peer.*.${self}.>`,
      ],
      deny: [],
    },
    sub: {
      allow: [
        `${SUBJECT_PREFIX}.rpc.${self}.>`,
        `_INBOX.${self}.>`,
        // Pipeline peers (issue 9): only what is addressed to it.
        `${SUBJECT_PREFIX}.peer.${self}.*.>`,
      ],
      deny: [],
    },
    // One reply per rpc request, so a device can answer the control plane without a
    // general publish right on the requester's inbox.
    resp: { max: 1, ttl: 0 },
  };
}

function keyText(kp: KeyPair): NkeyText {
  return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

function seedPair(seeds: FleetSeeds, field: keyof FleetSeeds, prefix: string): KeyPair {
  const seed = seeds[field];
  if (typeof seed !== "string") throw new InvalidFleetSeedError(field);
  try {
    const kp = keyPairFromSeed(seed);
    if (kp.getPublicKey().startsWith(prefix)) return kp;
  } catch (cause) {
    throw new InvalidFleetSeedError(field, { cause });
  }
  throw new InvalidFleetSeedError(field);
}

export function generateFleetSeeds(): FleetSeeds {
  const text = (kp: KeyPair) => new TextDecoder().decode(kp.getSeed());
  return {
    operator: text(createOperator()),
    systemAccount: text(createAccount()),
    fleetAccount: text(createAccount()),
    deviceSigningKey: text(createAccount()),
    controlPlane: text(createUser()),
    systemUser: text(createUser()),
  };
}

const v2 = { algorithm: Algorithms.v2 };
// An account JWT's missing limits mean 0 (no connections at all), so spell them out.
const UNLIMITED_CORE = {
  conn: -1,
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  leaf: -1,
};

/** Issues every JWT from the given seeds (new ones when omitted). Deterministic in keys, not in `iat`. */
export async function createFleetAuth(
  seeds: FleetSeeds = generateFleetSeeds(),
): Promise<FleetAuth> {
  const op = seedPair(seeds, "operator", "O");
  const sys = seedPair(seeds, "systemAccount", "A");
  const fleet = seedPair(seeds, "fleetAccount", "A");
  const devSk = seedPair(seeds, "deviceSigningKey", "A");
  const cp = seedPair(seeds, "controlPlane", "U");

  const operatorJwt = await encodeOperator(
    OPERATOR_NAME,
    op,
    { system_account: sys.getPublicKey() },
    v2,
  );
  // The system user (account pushes) needs the system account to allow connections at all.
  const sysJwt = await encodeAccount(
    SYSTEM_ACCOUNT_NAME,
    sys,
    { limits: { ...UNLIMITED_CORE, wildcards: true } },
    { ...v2, signer: op },
  );
  const fleetJwt = await encodeFleetAccount(fleet, devSk, op, {});
  // No permissions: the control plane may use every subject of the fleet account.
  const cpJwt = await encodeUser(CONTROL_PLANE_USER_NAME, cp, fleet, {}, v2);
  const sysUser = seeds.systemUser
    ? seedPair(seeds, "systemUser", "U")
    : keyPairFromSeed(createUserKey().seed);
  const sysUserJwt = await encodeUser(SYSTEM_USER_NAME, sysUser, sys, {}, v2);

  return {
    operator: { ...keyText(op), jwt: operatorJwt },
    systemAccount: { ...keyText(sys), jwt: sysJwt },
    fleetAccount: { ...keyText(fleet), jwt: fleetJwt, deviceSigningKey: keyText(devSk) },
    controlPlane: { ...keyText(cp), jwt: cpJwt },
    systemUser: { ...keyText(sysUser), jwt: sysUserJwt },
  };
}

/** User public key -> unix seconds: every JWT of that user issued at or before it is refused. */
export type RevocationList = Record<string, number>;

async function encodeFleetAccount(
  fleet: KeyPair,
  devSk: KeyPair,
  op: KeyPair,
  revocations: RevocationList,
): Promise<string> {
  const scoped: SigningKey = newScopedSigner(devSk, DEVICE_ROLE, deviceTemplate());
  return encodeAccount(
    FLEET_ACCOUNT_NAME,
    fleet,
    {
      limits: {
        ...UNLIMITED_CORE,
        wildcards: true,
        // Non-zero JetStream limits are what enables JetStream for an account (-1 = unlimited).
        ...{ mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
      },
      signing_keys: [scoped],
      ...(Object.keys(revocations).length ? { revocations } : {}),
    },
    { ...v2, signer: op },
  );
}

/**
 * The fleet account JWT carrying these revocations, signed by the operator: what the control
 * plane pushes to the full resolver so a revoked device is cut off at run time.
 */
export function fleetAccountJwt(auth: FleetAuth, revocations: RevocationList): Promise<string> {
  return encodeFleetAccount(
    keyPairFromSeed(auth.fleetAccount.seed),
    keyPairFromSeed(auth.fleetAccount.deviceSigningKey.seed),
    keyPairFromSeed(auth.operator.seed),
    revocations,
  );
}

export function fleetSeeds(auth: FleetAuth): FleetSeeds {
  return {
    operator: auth.operator.seed,
    systemAccount: auth.systemAccount.seed,
    fleetAccount: auth.fleetAccount.seed,
    deviceSigningKey: auth.fleetAccount.deviceSigningKey.seed,
    controlPlane: auth.controlPlane.seed,
    systemUser: auth.systemUser.seed,
  };
}

const signers = new Map<string, KeyPair>();
function deviceSigner(seed: string): KeyPair {
  let kp = signers.get(seed);
  if (!kp) {
    kp = keyPairFromSeed(seed);
    signers.set(seed, kp);
  }
  return kp;
}

/** A user public nkey (`U...`), not a seed and not another kind of key. */
export function assertUserPublicKey(publicKey: string): string {
  if (typeof publicKey !== "string" || !publicKey.startsWith("U")) {
    throw new InvalidDeviceKeyError("publicKey must be a NATS user public nkey (starts with U)");
  }
  try {
    fromPublic(publicKey);
  } catch (cause) {
    throw new InvalidDeviceKeyError("publicKey is not a valid NATS user public nkey", { cause });
  }
  return publicKey;
}

/**
 * Mints the device's user JWT: named after the device (which the signing key's template turns
 * into its subjects) and bound to the device's own public key, so only the holder of the
 * matching seed can use it.
 */
export async function mintDeviceCredentials(
  auth: FleetAuth,
  device: { deviceId: string; publicKey: string },
  opts: { ttlSeconds?: number; now?: number } = {},
): Promise<DeviceCredentials> {
  const deviceId = assertSubjectToken(device.deviceId);
  const publicKey = assertUserPublicKey(device.publicKey);
  const signer = deviceSigner(auth.fleetAccount.deviceSigningKey.seed);
  // A scoped user must carry no permissions of its own: the server rejects it otherwise.
  const jwt = await encodeUser(
    deviceId,
    publicKey,
    auth.fleetAccount.publicKey,
    {},
    { ...v2, signer, scopedUser: true, ...expiry(opts) },
  );
  return { deviceId, publicKey, jwt };
}

/** `exp` (unix seconds) of a JWT that lives `ttlSeconds` from `now` (ms); none without a TTL. */
function expiry(opts: { ttlSeconds?: number; now?: number }): { exp?: number } {
  if (opts.ttlSeconds === undefined) return {};
  if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds <= 0) {
    throw new RangeError("ttlSeconds must be a positive integer");
  }
  return { exp: Math.floor((opts.now ?? Date.now()) / 1000) + opts.ttlSeconds };
}

/** Decodes and verifies the signature of a user JWT (not its issuer chain). */
export function decodeUserJwt(jwt: string) {
  return decode<User>(jwt);
}
