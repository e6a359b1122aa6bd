// nkeys' own KeyPair re-derives the Ed25519 key pair in pure JavaScript on every call
// (getPublicKey, sign, ...), about 15-70 ms each here; minting one JWT makes several such
// calls. This KeyPair decodes the seed once and signs with Node's native Ed25519.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import type { KeyPair } from "@nats-io/nkeys";

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SEED_KIND = 18 << 3; // 'S'
const PRIVATE_KIND = 15 << 3; // 'P'
const USER_ROLE = 20 << 3; // 'U'
// DER header of a PKCS#8 Ed25519 private key; the 32-byte seed follows it.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

export class InvalidSeedError extends Error {
  override name = "InvalidSeedError";
}

function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function base32Encode(data: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

function base32Decode(text: string): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new InvalidSeedError("seed is not base32");
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

function withChecksum(head: number[], payload: Uint8Array): string {
  const raw = new Uint8Array(head.length + payload.length + 2);
  raw.set(head);
  raw.set(payload, head.length);
  const crc = crc16(raw.subarray(0, raw.length - 2));
  raw[raw.length - 2] = crc & 0xff;
  raw[raw.length - 1] = crc >> 8;
  return base32Encode(raw);
}

/** Splits an encoded seed (`S` + role letter) into its role prefix byte and 32 raw bytes. */
export function decodeSeed(seed: string): { role: number; raw: Uint8Array } {
  const bytes = base32Decode(seed);
  if (bytes.length !== 36) throw new InvalidSeedError("seed has the wrong length");
  const body = bytes.subarray(0, 34);
  const crc = bytes[34] | (bytes[35] << 8);
  if (crc16(body) !== crc) throw new InvalidSeedError("seed checksum mismatch");
  if ((body[0] & 0xf8) !== SEED_KIND) throw new InvalidSeedError("not a seed");
  const role = ((body[0] & 7) << 5) | ((body[1] & 0xf8) >> 3);
  return { role, raw: body.slice(2) };
}

class NativeKeyPair implements KeyPair {
  private readonly publicKey: string;

  constructor(
    private readonly seed: string,
    private readonly key: KeyObject,
    role: number,
    private readonly raw: Uint8Array,
    private readonly pub: Uint8Array,
  ) {
    this.publicKey = withChecksum([role], pub);
  }
  getPublicKey(): string {
    return this.publicKey;
  }
  getPrivateKey(): Uint8Array {
    return new TextEncoder().encode(
      withChecksum([PRIVATE_KIND], Buffer.concat([this.raw, this.pub])),
    );
  }
  getSeed(): Uint8Array {
    return new TextEncoder().encode(this.seed);
  }
  sign(input: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, input, this.key));
  }
  verify(input: Uint8Array, sig: Uint8Array): boolean {
    return verify(null, input, createPublicKey(this.key), sig);
  }
  clear(): void {
    // Node holds the key material in a KeyObject; nothing here to wipe.
  }
  seal(): Uint8Array {
    throw new Error("not a curve key");
  }
  open(): Uint8Array | null {
    throw new Error("not a curve key");
  }
}

/** The 32 key bytes of a public nkey (`U...`, `A...`), checksum and role checked. */
function decodePublicKey(publicKey: string, role: number): Uint8Array {
  const bytes = base32Decode(publicKey);
  if (bytes.length !== 35) throw new InvalidSeedError("public key has the wrong length");
  const crc = bytes[33] | (bytes[34] << 8);
  if (crc16(bytes.subarray(0, 33)) !== crc)
    throw new InvalidSeedError("public key checksum mismatch");
  if (bytes[0] !== role) throw new InvalidSeedError("public key is of another kind than the seed");
  return bytes.slice(1, 33);
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");

/**
 * A signing KeyPair from an nkey seed (`SO...`, `SA...`, `SU...`), backed by node:crypto.
 * `publicKey`, when the caller kept it beside the seed, is trusted as the seed's (not derived
 * again): a DER import that derives it costs ~0.4 ms here, a JWK import with it ~30 us, which
 * is what a process connecting thousands of devices notices. A wrong one makes signatures that
 * do not verify.
 */
export function keyPairFromSeed(seed: string, publicKey?: string): KeyPair {
  const { role, raw } = decodeSeed(seed);
  if (publicKey !== undefined) {
    const pub = decodePublicKey(publicKey, role);
    const jwk = { kty: "OKP", crv: "Ed25519", d: b64url(raw), x: b64url(pub) };
    return new NativeKeyPair(seed, createPrivateKey({ key: jwk, format: "jwk" }), role, raw, pub);
  }
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, raw]),
    format: "der",
    type: "pkcs8",
  });
  const pub = Buffer.from(createPublicKey(key).export({ format: "jwk" }).x as string, "base64url");
  return new NativeKeyPair(seed, key, role, raw, pub);
}

export interface UserKey {
  /** `SU...`: the secret. */
  seed: string;
  /** `U...` */
  publicKey: string;
}

/**
 * A new user nkey from node:crypto. nkeys' `createUser()` is as cheap, but reading its public key
 * derives it in JavaScript (~20 ms): thousands of simulated devices would wait minutes for keys.
 */
export function createUserKey(): UserKey {
  const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
  const raw = Buffer.from(jwk.d as string, "base64url");
  const pub = Buffer.from(jwk.x as string, "base64url");
  return {
    seed: withChecksum([SEED_KIND | (USER_ROLE >> 5), (USER_ROLE & 31) << 3], raw),
    publicKey: withChecksum([USER_ROLE], pub),
  };
}

/** Checks an Ed25519 signature by the user nkey `U...` (node:crypto; false on any bad input). */
export function verifyUserSignature(
  publicKey: string,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  let pub: Uint8Array;
  try {
    pub = decodePublicKey(publicKey, USER_ROLE);
  } catch {
    return false;
  }
  const key = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: b64url(pub) },
    format: "jwk",
  });
  try {
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}
