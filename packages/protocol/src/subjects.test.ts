import { describe, expect, it } from "vitest";
import { deviceIdFromSubject, subjects } from "./subjects";

describe("subjects", () => {
  it.each([
    ["dev-1", "ef.v1.dev.dev-1.telemetry"],
    ["A_b-9", "ef.v1.dev.A_b-9.telemetry"],
  ])("builds telemetry subject for %s", (id, expected) => {
    expect(subjects.telemetry(id)).toBe(expected);
    expect(deviceIdFromSubject(expected)).toBe(id);
  });

  it.each(["a.b", "*", ">", "", "x y", "a".repeat(65)])("refuses device id %j", (id) => {
    expect(() => subjects.rpcAll(id)).toThrow(/deviceId/);
  });

  it.each([
    ["ef.v1.dev.abc.events", "abc"],
    ["ef.v1.rpc.abc.profile", undefined],
    ["other.dev.abc.events", undefined],
  ])("reads the device id of %s", (subject, id) => {
    expect(deviceIdFromSubject(subject)).toBe(id);
  });
});
