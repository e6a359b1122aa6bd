import { describe, expect, it } from "vitest";
import { formatLabels, labelPatch, parseDuration, parseLabelList, parsePair } from "./labels";

describe("labelPatch", () => {
  it.each([
    [["site=lab"], [], { set: { site: "lab" }, remove: [] }],
    [["url=http://x?a=b"], [], { set: { url: "http://x?a=b" }, remove: [] }],
    [["empty="], [], { set: { empty: "" }, remove: [] }],
    [[], ["rack", "rack"], { set: {}, remove: ["rack"] }],
    [["a=1", "a=1"], ["b"], { set: { a: "1" }, remove: ["b"] }],
  ])("%j --remove %j", (pairs, remove, patch) => {
    expect(labelPatch(pairs, remove)).toEqual(patch);
  });

  it.each([
    [["site"], [], /labels: "site" is not key=value/],
    [["=lab"], [], /labels: "=lab" is not key=value/],
    [["a b=1"], [], /labels: label key "a b" must be/],
    [["a=1", "a=2"], [], /labels: a is given twice/],
    [["a=1"], ["a"], /--remove: a is also set/],
    [[], ["a=b"], /--remove: "a=b" is not a label key/],
    [[], [], /give key=value pairs to set, or --remove/],
  ])("refuses %j --remove %j", (pairs, remove, msg) => {
    expect(() => labelPatch(pairs, remove)).toThrow(msg);
  });
});

describe("parseLabelList / parsePair / formatLabels", () => {
  it("parses --labels a=1,b=2", () => {
    expect(parseLabelList("a=1,b=2")).toEqual({ a: "1", b: "2" });
    expect(() => parseLabelList("a=1,b")).toThrow(/--labels: "b" is not key=value/);
  });
  it("names where a pair came from", () => {
    expect(() => parsePair("x", "--label")).toThrow(/^--label: /);
  });
  it.each([
    [{}, "-"],
    [undefined, "-"],
    [{ tier: "canary", site: "lab" }, "site=lab, tier=canary"],
  ])("formats %j as %s", (labels, text) => expect(formatLabels(labels)).toBe(text));
});

describe("parseDuration", () => {
  it.each([
    ["90", 90],
    ["90s", 90],
    ["30m", 1800],
    ["12h", 43_200],
    ["7d", 604_800],
    ["1.5h", 5400],
  ])("%s = %d s", (v, s) => expect(parseDuration(v, "--ttl")).toBe(s));
  it.each(["", "h", "-5m", "5w", "5 m"])("refuses %j", (v) => {
    expect(() => parseDuration(v, "--ttl")).toThrow(/--ttl: .* is not a duration/);
  });
});
