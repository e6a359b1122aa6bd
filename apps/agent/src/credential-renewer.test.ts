import { describe, expect, it } from "vitest";
import { renewalDelayMs } from "./credential-renewer";

describe("renewalDelayMs", () => {
  const t = 1_800_000_000;
  it.each([
    { name: "no expiry: never", claims: { iat: t }, now: t * 1000, want: undefined },
    {
      name: "fresh 24 h JWT: in 16 h",
      claims: { iat: t, exp: t + 86_400 },
      now: t * 1000,
      want: 57_600_000,
    },
    {
      name: "9 s JWT after 1 s: in 5 s",
      claims: { iat: t, exp: t + 9 },
      now: (t + 1) * 1000,
      want: 5_000,
    },
    { name: "past 2/3: at once", claims: { iat: t, exp: t + 9 }, now: (t + 7) * 1000, want: 0 },
    {
      name: "already expired: at once",
      claims: { iat: t, exp: t + 9 },
      now: (t + 60) * 1000,
      want: 0,
    },
    { name: "no iat: 2/3 of what is left", claims: { exp: t + 30 }, now: t * 1000, want: 20_000 },
  ])("$name", ({ claims, now, want }) => {
    expect(renewalDelayMs(claims, now)).toBe(want);
  });
});
