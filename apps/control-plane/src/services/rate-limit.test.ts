import { describe, expect, it } from "vitest";
import {
  addressMatcher,
  formatRate,
  GcraLimiter,
  parseAddressList,
  parseRate,
  peerAddress,
} from "./rate-limit";

describe("parseRate", () => {
  it.each([
    ["120/1m", { count: 120, periodMs: 60_000 }],
    ["600/1m", { count: 600, periodMs: 60_000 }],
    ["10/30s", { count: 10, periodMs: 30_000 }],
    ["5/h", { count: 5, periodMs: 3_600_000 }],
    [" 3 / 250ms ", { count: 3, periodMs: 250 }],
  ])("%s", (text, rate) => {
    expect(parseRate(text)).toEqual(rate);
    expect(parseRate(formatRate(rate))).toEqual(rate);
  });

  it.each(["", "120", "0/1m", "120/0m", "120/1d", "-1/1m", "1.5/1m", "a/1m", "120/1m/2"])(
    "refuses %j naming the format",
    (text) => {
      expect(() => parseRate(text)).toThrow(/must look like 120\/1m/);
    },
  );

  it("formats back", () => {
    expect(formatRate({ count: 120, periodMs: 60_000 })).toBe("120/1m");
    expect(formatRate({ count: 2, periodMs: 7_200_000 })).toBe("2/2h");
    expect(formatRate({ count: 3, periodMs: 1500 })).toBe("3/1500ms");
  });
});

describe("GcraLimiter", () => {
  // 2 per second: a burst of 2, then one every 500 ms.
  const cases: Array<{ what: string; takes: Array<[number, string, true | number]> }> = [
    {
      what: "a burst of the whole allowance, then refusals saying when",
      takes: [
        [0, "a", true],
        [0, "a", true],
        [0, "a", 500],
        [200, "a", 300],
        [500, "a", true],
        [500, "a", 500],
      ],
    },
    {
      what: "keys are independent",
      takes: [
        [0, "a", true],
        [0, "a", true],
        [0, "b", true],
        [0, "b", true],
        [0, "a", 500],
        [0, "b", 500],
      ],
    },
    {
      what: "a quiet key gets its whole allowance back, no more",
      takes: [
        [0, "a", true],
        [0, "a", true],
        [10_000, "a", true],
        [10_000, "a", true],
        [10_000, "a", 500],
      ],
    },
    {
      what: "refusals do not use up the allowance",
      takes: [
        [0, "a", true],
        [0, "a", true],
        [100, "a", 400],
        [100, "a", 400],
        [100, "a", 400],
        [500, "a", true],
        [1000, "a", true],
      ],
    },
    {
      what: "a steady rate at the limit is never refused",
      takes: Array.from({ length: 20 }, (_, i): [number, string, true] => [i * 500, "a", true]),
    },
  ];
  it.each(cases)("$what", ({ takes }) => {
    const limiter = new GcraLimiter({ count: 2, periodMs: 1000 });
    const got = takes.map(([t, key]) => {
      const d = limiter.take(key, t);
      return d.ok ? true : d.retryAfterMs;
    });
    expect(got).toEqual(takes.map(([, , want]) => want));
  });

  it("forgets idle keys once it holds too many, never a key still limited", () => {
    const limiter = new GcraLimiter({ count: 1, periodMs: 1000 }, 3);
    limiter.take("busy", 900);
    for (const key of ["a", "b"]) limiter.take(key, 0);
    expect(limiter.keys).toBe(3);
    expect(limiter.take("c", 1000)).toEqual({ ok: true });
    expect(limiter.keys).toBe(2);
    expect(limiter.take("busy", 1000)).toEqual({ ok: false, retryAfterMs: 900 });
  });
});

describe("addresses", () => {
  it.each([
    ["127.0.0.1:50123", "127.0.0.1"],
    ["ipv4:10.1.2.3:443", "10.1.2.3"],
    ["[::1]:50123", "::1"],
    ["ipv6:[2001:db8::1]:80", "2001:db8::1"],
    ["[::ffff:192.168.0.9]:1", "192.168.0.9"],
    ["::1:50123", "::1"],
    ["::ffff:127.0.0.1:50123", "127.0.0.1"],
    ["2001:db8::7:443", "2001:db8::7"],
    ["unknown", "unknown"],
  ])("peer %s is %s", (peer, address) => {
    expect(peerAddress(peer)).toBe(address);
  });

  it.each([
    ["127.0.0.1", true],
    ["127.200.0.1", true],
    ["::1", true],
    ["10.9.8.7", true],
    ["10.9.9.7", false],
    ["192.168.1.1", false],
    ["::ffff:127.0.0.1", true],
    ["unknown", false],
  ])("exempt list matches %s: %s", (address, exempt) => {
    const matches = addressMatcher(parseAddressList("127.0.0.0/8, ::1, 10.9.8.0/24"));
    expect(matches(address)).toBe(exempt);
  });

  it.each(["localhost", "10.0.0.0/33", "::1/129", "1.2.3.4/", "1.2.3.4/8/1"])(
    "refuses %j naming it",
    (entry) => {
      expect(() => parseAddressList(`127.0.0.1,${entry}`)).toThrow(entry);
    },
  );

  it("an empty list exempts no one", () => {
    expect(parseAddressList(" ")).toEqual([]);
    expect(addressMatcher([])("127.0.0.1")).toBe(false);
  });
});
