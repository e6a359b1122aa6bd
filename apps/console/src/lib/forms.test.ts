import { describe, expect, it } from "vitest";
import { parsePolicy, parseSelector, parseWaves } from "./forms";

describe("parseWaves", () => {
  it.each([
    ["1, 10%, 100%", { ok: true, value: [1, "10%", "100%"] }],
    ["50 %,100%", { ok: true, value: ["50%", "100%"] }],
    ["2.5%", { ok: true, value: ["2.5%"] }],
    [
      "",
      {
        ok: false,
        error: { field: "strategy.waves", message: "give at least one wave, e.g. 10%, 100%" },
      },
    ],
    [
      "0%",
      {
        ok: false,
        error: {
          field: "strategy.waves",
          message: '"0%" must be a share over 0 % and at most 100 %',
        },
      },
    ],
    [
      "120%",
      {
        ok: false,
        error: {
          field: "strategy.waves",
          message: '"120%" must be a share over 0 % and at most 100 %',
        },
      },
    ],
    [
      "ten",
      {
        ok: false,
        error: {
          field: "strategy.waves",
          message: '"ten" is neither a device count (5) nor a share (10%)',
        },
      },
    ],
    [
      "0",
      {
        ok: false,
        error: {
          field: "strategy.waves",
          message: '"0" is neither a device count (5) nor a share (10%)',
        },
      },
    ],
  ])("%j", (text, result) => expect(parseWaves(text)).toEqual(result));
});

describe("parsePolicy", () => {
  const base = { slo: "30", batch: "1", accuracyFloor: "90", objective: "max-accuracy" as const };
  it("turns the floor percentage into a share", () => {
    expect(parsePolicy(base)).toEqual({
      ok: true,
      value: { latencySloMs: 30, batch: 1, accuracyFloor: 0.9, objective: "max-accuracy" },
    });
  });
  it.each([
    [{ slo: "" }, "latencySloMs", "must be a number"],
    [{ slo: "-1" }, "latencySloMs", "must be between 0.001 and 600000"],
    [{ batch: "1.5" }, "batch", "must be a whole number"],
    [{ batch: "2000" }, "batch", "must be between 1 and 1024"],
    [{ accuracyFloor: "101" }, "accuracyFloor", "must be between 0 and 100"],
  ])("%j -> %s %s", (change, field, message) => {
    expect(parsePolicy({ ...base, ...change })).toEqual({ ok: false, error: { field, message } });
  });
});

describe("parseSelector", () => {
  it.each([
    [
      { deviceClass: "", labels: "", status: "" },
      { ok: true, value: {} },
    ],
    [
      { deviceClass: " rpi4 ", labels: "site=lab", status: "online" },
      { ok: true, value: { deviceClass: "rpi4", labels: { site: "lab" }, status: "online" } },
    ],
    [
      { deviceClass: "", labels: "site", status: "" },
      { ok: false, error: { field: "selector.labels", message: 'label "site" must be key=value' } },
    ],
    [
      { deviceClass: "", labels: "", status: "gone" },
      {
        ok: false,
        error: { field: "selector.status", message: "must be one of online, offline, enrolled" },
      },
    ],
  ])("%j", (input, result) => expect(parseSelector(input)).toEqual(result));
});
