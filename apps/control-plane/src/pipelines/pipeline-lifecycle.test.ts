import { describe, expect, it } from "vitest";
import { inferRefusal, stopRefusal } from "./pipeline-lifecycle";

describe("stopRefusal", () => {
  it.each([
    ["running", null],
    ["stopped", "the pipeline is already stopped"],
    ["failed", "the pipeline is failed: there is nothing to stop"],
  ])("%s -> %s", (status, want) => {
    expect(stopRefusal(status)).toBe(want);
  });
});

describe("inferRefusal", () => {
  it.each([
    ["running", null, null],
    ["stopped", "stopped by apitoken:1", { kind: "conflict", message: "pipeline is stopped" }],
    [
      "failed",
      "no device of the pipeline is online",
      { kind: "unavailable", message: "pipeline is failed: no device of the pipeline is online" },
    ],
    ["failed", null, { kind: "unavailable", message: "pipeline is failed:" }],
  ])("%s (%s) -> %o", (status, error, want) => {
    expect(inferRefusal(status, error)).toEqual(want);
  });
});
