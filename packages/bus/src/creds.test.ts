import { describe, expect, it } from "vitest";
import { formatCreds, InvalidCredsError, parseCreds } from "./creds";

const jwt = "eyJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQSJ9.c2ln";
const seed = "SUAGIEYODKBBTUMOB666Z5KA4FCWAZV7HWSGRHOD7MK6UM5IMUJ6GH7OTI";

describe("creds", () => {
  it("round-trips jwt and seed through the standard layout", () => {
    const text = formatCreds(jwt, seed);
    expect(text).toContain("-----BEGIN NATS USER JWT-----");
    expect(text).toContain("-----BEGIN USER NKEY SEED-----");
    expect(parseCreds(text)).toEqual({ jwt, seed });
    expect(parseCreds(new TextEncoder().encode(text.replaceAll("\n", "\r\n")))).toEqual({
      jwt,
      seed,
    });
  });

  it.each([
    ["empty", ""],
    ["jwt only", formatCreds(jwt, seed).split("*")[0]],
    [
      "account seed",
      formatCreds(jwt, "SAAGIEYODKBBTUMOB666Z5KA4FCWAZV7HWSGRHOD7MK6UM5IMUJ6GH7OTI"),
    ],
  ])("rejects %s", (_what, text) => {
    expect(() => parseCreds(text)).toThrow(InvalidCredsError);
  });
});
