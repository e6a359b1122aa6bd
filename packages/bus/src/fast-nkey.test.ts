import {
  createAccount,
  createOperator,
  createUser,
  fromPublic,
  fromSeed,
  type KeyPair,
} from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { createUserKey, InvalidSeedError, keyPairFromSeed } from "./fast-nkey";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("keyPairFromSeed", () => {
  it.each([
    ["operator", createOperator()],
    ["account", createAccount()],
    ["user", createUser()],
  ])("agrees with nkeys for a %s key", (_kind, kp: KeyPair) => {
    const fast = keyPairFromSeed(text(kp.getSeed()));
    expect(fast.getPublicKey()).toBe(kp.getPublicKey());
    expect(text(fast.getPrivateKey())).toBe(text(kp.getPrivateKey()));
    const msg = new TextEncoder().encode("header.payload");
    const sig = fast.sign(msg);
    expect(sig).toEqual(kp.sign(msg));
    expect(fromPublic(kp.getPublicKey()).verify(msg, sig)).toBe(true);
    expect(fast.verify(msg, kp.sign(msg))).toBe(true);
  });

  /** One key character changed (to another, always): the CRC-16 catches every such change. */
  const corrupt = (seed: string) =>
    `${seed.slice(0, 10)}${seed[10] === "A" ? "B" : "A"}${seed.slice(11)}`;
  it.each([
    ["a public key", createUser().getPublicKey()],
    ["garbage", "SUnotbase32!"],
    ["a truncated seed", text(createUser().getSeed()).slice(0, -3)],
    ["a corrupted seed", corrupt(text(createUser().getSeed()))],
  ])("rejects %s", (_what, seed) => {
    expect(() => keyPairFromSeed(seed)).toThrow(InvalidSeedError);
  });
});

describe("createUserKey", () => {
  it("makes user keys that nkeys reads as the same key", () => {
    const { seed, publicKey } = createUserKey();
    expect(seed.startsWith("SU")).toBe(true);
    const kp = fromSeed(new TextEncoder().encode(seed));
    expect(kp.getPublicKey()).toBe(publicKey);
    expect(keyPairFromSeed(seed).getPublicKey()).toBe(publicKey);
    expect(createUserKey().seed).not.toBe(seed);
  });

  it("signs as nkeys does when the public key is given beside the seed", () => {
    const { seed, publicKey } = createUserKey();
    const msg = new TextEncoder().encode("nonce");
    const fast = keyPairFromSeed(seed, publicKey);
    expect(fast.getPublicKey()).toBe(publicKey);
    expect(fast.sign(msg)).toEqual(fromSeed(new TextEncoder().encode(seed)).sign(msg));
    expect(text(fast.getPrivateKey())).toBe(
      text(fromSeed(new TextEncoder().encode(seed)).getPrivateKey()),
    );
  });

  it("refuses a public key of another kind or with a bad checksum", () => {
    const { seed, publicKey } = createUserKey();
    expect(() => keyPairFromSeed(seed, createAccount().getPublicKey())).toThrow(InvalidSeedError);
    expect(() => keyPairFromSeed(seed, `${publicKey.slice(0, -2)}AA`)).toThrow(InvalidSeedError);
  });
});
