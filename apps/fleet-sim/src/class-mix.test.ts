import { describe, expect, it } from "vitest";
import { dealClasses, InvalidClassMixError, parseClassMix } from "./class-mix";

function count(xs: string[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const x of xs) m[x] = (m[x] ?? 0) + 1;
  return m;
}

describe("parseClassMix", () => {
  it("normalises shares", () => {
    expect(parseClassMix("rpi4:2, x86-gateway:2")).toEqual([
      { deviceClass: "rpi4", weight: 0.5 },
      { deviceClass: "x86-gateway", weight: 0.5 },
    ]);
    expect(parseClassMix("jetson-nano")).toEqual([{ deviceClass: "jetson-nano", weight: 1 }]);
  });

  it.each([
    ["", "empty class mix"],
    ["rpi5:1", 'unknown device class "rpi5"'],
    ["rpi4:0", "share a number > 0"],
    ["rpi4:x", "share a number > 0"],
    ["rpi4:1:2", "want <class>:<share>"],
    ["rpi4:1,rpi4:2", "appears twice"],
  ])("refuses %j", (text, message) => {
    expect(() => parseClassMix(text)).toThrow(InvalidClassMixError);
    expect(() => parseClassMix(text)).toThrow(message);
  });
});

describe("dealClasses", () => {
  const mix = parseClassMix("rpi4:0.4,jetson-nano:0.3,x86-gateway:0.3");

  it("deals whole devices as close to the mix as possible", () => {
    expect(count(dealClasses(mix, 10))).toEqual({ rpi4: 4, "jetson-nano": 3, "x86-gateway": 3 });
    expect(count(dealClasses(mix, 1000))).toEqual({
      rpi4: 400,
      "jetson-nano": 300,
      "x86-gateway": 300,
    });
  });

  it("keeps every prefix mixed", () => {
    expect(dealClasses(mix, 4)).toEqual(["rpi4", "jetson-nano", "x86-gateway", "rpi4"]);
  });

  it("tops up an existing fleet towards the mix", () => {
    const existing = Array(10).fill("rpi4");
    expect(count(dealClasses(mix, 10, existing))).toEqual({ "jetson-nano": 5, "x86-gateway": 5 });
  });
});
