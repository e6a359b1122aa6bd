import { describe, expect, it } from "vitest";
import { localDigits } from "./agents";

describe("local stack calibration data", () => {
  it.each([
    { i: 0, n: 3, text: "mnist:digits=0,3,6,9" },
    { i: 1, n: 3, text: "mnist:digits=1,4,7" },
    { i: 2, n: 3, text: "mnist:digits=2,5,8" },
    { i: 0, n: 1, text: "mnist:digits=0,1,2,3,4,5,6,7,8,9" },
    { i: 11, n: 12, text: "" },
  ])("agent $i of $n holds $text", ({ i, n, text }) => {
    expect(localDigits(i, n)).toBe(text);
  });
});
