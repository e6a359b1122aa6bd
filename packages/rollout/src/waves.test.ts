import { describe, expect, it } from "vitest";
import { strategySchema } from "./strategy";
import { assignWaves, waveBoundaries } from "./waves";

describe("waveBoundaries", () => {
  it.each([
    [["1%", "10%", "50%", "100%"], 50, [1, 5, 25, 50]],
    [["1%", "10%", "50%", "100%"], 1000, [10, 100, 500, 1000]],
    [["1%", "10%", "50%", "100%"], 3, [1, 2, 3]],
    [["10%"], 40, [4, 40]],
    [[5, 20], 100, [5, 20, 100]],
    [[5, 20], 8, [5, 8]],
    [["100%"], 1, [1]],
    [["50%"], 0, []],
  ])("%j of %i devices -> %j", (waves, total, expected) => {
    const { waves: sizes } = strategySchema.parse({ waves });
    expect(waveBoundaries(sizes, total)).toEqual(expected);
  });
});

describe("assignWaves", () => {
  const fleet = [
    ...Array.from({ length: 60 }, (_, i) => ({ id: `rpi-${i}`, deviceClass: "rpi4" })),
    ...Array.from({ length: 30 }, (_, i) => ({ id: `jet-${i}`, deviceClass: "jetson-nano" })),
    ...Array.from({ length: 10 }, (_, i) => ({ id: `x86-${i}`, deviceClass: "x86-gateway" })),
  ];
  const sizes = strategySchema.parse({ waves: ["10%", "50%", "100%"] }).waves;

  it("gives every wave each class in its share of the fleet", () => {
    const waves = assignWaves(fleet, sizes);
    const count = (wave: number, cls: string) =>
      fleet.filter((d) => d.deviceClass === cls && waves.get(d.id) === wave).length;
    expect([count(0, "rpi4"), count(0, "jetson-nano"), count(0, "x86-gateway")]).toEqual([6, 3, 1]);
    expect(fleet.filter((d) => waves.get(d.id) === 1)).toHaveLength(40);
    expect(fleet.filter((d) => waves.get(d.id) === 2)).toHaveLength(50);
  });

  it("is stable for the same devices, and does not follow enrollment order", () => {
    const a = assignWaves(fleet, sizes);
    const b = assignWaves([...fleet].reverse(), sizes);
    expect([...a].sort()).toEqual([...b].sort());
    const first = fleet
      .filter((d) => a.get(d.id) === 0 && d.deviceClass === "rpi4")
      .map((d) => d.id);
    expect(first).not.toEqual(["rpi-0", "rpi-1", "rpi-2", "rpi-3", "rpi-4", "rpi-5"]);
  });
});

describe("strategySchema", () => {
  it.each([
    [{ waves: ["0.5%"] }, true],
    [{ waves: ["150%"] }, false],
    [{ waves: ["ten"] }, false],
    [{ waves: [0] }, false],
    [{ waves: [] }, false],
    [{ bakeSeconds: -1 }, false],
    [{ gates: { agreement: { enabled: true, minAgreement: 2 } } }, false],
  ])("%j valid: %s", (input, ok) => {
    expect(strategySchema.safeParse(input).success).toBe(ok);
  });

  it("has the defaults an operator expects", () => {
    expect(strategySchema.parse({})).toMatchObject({
      bakeSeconds: 60,
      maxPerSecond: 1000,
      gates: {
        install: { maxFailureRate: 0.2 },
        latency: { quantile: 0.95 },
        canary: { maxDropPoints: 2 },
      },
    });
  });
});

describe("a stored strategy", () => {
  it("parses again to itself", () => {
    const once = strategySchema.parse({ waves: ["1%", 20, "100%"], bakeSeconds: 5 });
    expect(strategySchema.parse(JSON.parse(JSON.stringify(once)))).toEqual(once);
  });
});
