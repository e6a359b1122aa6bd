import { jwtAuthenticator } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { userJwtAuthenticator } from "./connect";
import { createUserKey } from "./fast-nkey";

describe("userJwtAuthenticator", () => {
  it("answers a nonce exactly as nats.js's jwtAuthenticator does", () => {
    const { seed, publicKey } = createUserKey();
    const ours = userJwtAuthenticator("header.payload.sig", seed, publicKey);
    const theirs = jwtAuthenticator("header.payload.sig", new TextEncoder().encode(seed));
    expect(ours("a-server-nonce")).toEqual(theirs("a-server-nonce"));
    expect(ours()).toEqual(theirs());
    expect(userJwtAuthenticator("j", seed)("n")).toEqual(
      jwtAuthenticator("j", new TextEncoder().encode(seed))("n"),
    );
  });
});
