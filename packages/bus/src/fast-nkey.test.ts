import {
  createAccount,
  createOperator,
  createUser,
  fromPublic,
  type KeyPair,
} from "@nats-io/nkeys";
import { describe, expect, it } from "vitest";
import { InvalidSeedError, keyPairFromSeed } from "./fast-nkey";

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

  it.each([
    ["a public key", createUser().getPublicKey()],
    ["garbage", "SUnotbase32!"],
    ["a truncated seed", text(createUser().getSeed()).slice(0, -3)],
    ["a corrupted seed", `${text(createUser().getSeed()).slice(0, -2)}AA`],
  ])("rejects %s", (_what, seed) => {
    expect(() => keyPairFromSeed(seed)).toThrow(InvalidSeedError);
  });
});
