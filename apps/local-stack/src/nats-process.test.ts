import { describe, expect, it } from "vitest";
import { findNatsServer, NatsServerMissingError } from "./nats-process";

describe("findNatsServer", () => {
  it("says exactly how to get nats-server when it is nowhere", () => {
    expect(() => findNatsServer("/nope/nats-server", [])).toThrow(NatsServerMissingError);
    expect(() => findNatsServer("no-such-binary-here", [])).toThrow(/apt-get install nats-server/);
  });

  it.each([
    ["a name on PATH", "sh", "sh"],
    ["an absolute path that exists", "/bin/sh", "/bin/sh"],
  ])("accepts %s", (_what, bin, expected) => {
    expect(findNatsServer(bin, [])).toBe(expected);
  });

  it("falls back to the usual install locations", () => {
    expect(findNatsServer("no-such-binary-here", ["/bin/sh"])).toBe("/bin/sh");
  });
});
