import { describe, expect, it } from "vitest";
import { createUserKey } from "./fast-nkey";
import { checkRenewalProof, signRenewalProof } from "./renewal-proof";

const me = createUserKey();
const other = createUserKey();
const deviceId = "7b0c1d3e-0000-4000-8000-000000000001";
const t0 = Date.UTC(2026, 11, 3, 10, 0, 0);
const good = signRenewalProof(me.seed, deviceId, t0);

describe("checkRenewalProof", () => {
  const cases: Array<{
    name: string;
    publicKey?: string;
    deviceId?: string;
    timestamp?: number;
    signature?: Uint8Array;
    nowMs?: number;
    want: ReturnType<typeof checkRenewalProof>;
  }> = [
    { name: "a fresh proof by the device's key", want: { ok: true } },
    { name: "4 min of clock skew ahead", nowMs: t0 - 240_000, want: { ok: true } },
    { name: "4 min of clock skew behind", nowMs: t0 + 240_000, want: { ok: true } },
    { name: "6 min old", nowMs: t0 + 360_000, want: { ok: false, reason: "clock" } },
    { name: "6 min in the future", nowMs: t0 - 360_000, want: { ok: false, reason: "clock" } },
    {
      name: "another key's signature",
      publicKey: other.publicKey,
      want: { ok: false, reason: "signature" },
    },
    { name: "signed for another device", deviceId: "x", want: { ok: false, reason: "signature" } },
    {
      name: "timestamp changed after signing",
      timestamp: good.timestamp + 1,
      want: { ok: false, reason: "signature" },
    },
    {
      name: "truncated signature",
      signature: good.signature.subarray(0, 10),
      want: { ok: false, reason: "signature" },
    },
    { name: "not a user key", publicKey: "ABC", want: { ok: false, reason: "signature" } },
    { name: "not a number", timestamp: Number.NaN, want: { ok: false, reason: "clock" } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(
        checkRenewalProof({
          publicKey: c.publicKey ?? me.publicKey,
          deviceId: c.deviceId ?? deviceId,
          timestamp: c.timestamp ?? good.timestamp,
          signature: c.signature ?? good.signature,
          nowMs: c.nowMs ?? t0,
        }),
      ).toEqual(c.want);
    });
  }
});
