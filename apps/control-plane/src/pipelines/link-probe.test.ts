import { describe, expect, it } from "vitest";
import { linkFromEchoes } from "./link-probe";

describe("linkFromEchoes", () => {
  it.each([
    // 2 x (1 MB - 1 kB) in 20 ms extra -> ~99.9 MB/s
    ["a LAN", { bytes: 1000, ms: [1, 1.2, 0.8] }, { bytes: 1e6, ms: [21, 21, 22] }, 1, 99.9e6],
    [
      "the median, not the mean, of noisy rounds",
      { bytes: 0, ms: [2, 2, 50] },
      { bytes: 5e5, ms: [12, 12, 90] },
      2,
      100e6,
    ],
    [
      "a large echo no slower than the small one: capped",
      { bytes: 64, ms: [0.3] },
      { bytes: 262144, ms: [0.3] },
      0.3,
      10e9,
    ],
  ])("%s", (_name, small, large, rtt, bps) => {
    const link = linkFromEchoes(small, large);
    expect(link.rttMs).toBeCloseTo(rtt, 6);
    expect(link.bytesPerSecond / bps).toBeCloseTo(1, 2);
  });

  it("refuses no timings", () => {
    expect(() => linkFromEchoes({ bytes: 1, ms: [] }, { bytes: 2, ms: [1] })).toThrow(RangeError);
  });
});
