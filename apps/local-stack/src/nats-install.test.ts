import { describe, expect, it } from "vitest";
import { APT_INSTALL_NATS, APT_UPDATE, nextNatsServerStep } from "./nats-install";

describe("nextNatsServerStep", () => {
  it.each([
    // found,                   uid,       apt-get, -> action
    ["/usr/sbin/nats-server", 0, true, "use"],
    ["/usr/sbin/nats-server", 1000, false, "use"],
    [null, 0, true, "aptInstall"],
    [null, 0, false, "explain"],
    [null, 1000, true, "explain"],
    [null, 1000, false, "explain"],
    [null, undefined, true, "explain"],
  ] as const)("found %s, uid %s, apt-get %s -> %s", (found, uid, aptGet, action) => {
    expect(nextNatsServerStep({ found, uid, aptGet }).action).toBe(action);
  });

  it("uses the binary it found", () => {
    expect(nextNatsServerStep({ found: "/opt/nats", uid: 0, aptGet: true })).toEqual({
      action: "use",
      bin: "/opt/nats",
    });
  });
});

describe("the apt commands", () => {
  it("install only nats-server, unattended, and refresh the package lists", () => {
    expect(APT_INSTALL_NATS).toEqual([
      "apt-get",
      "install",
      "-y",
      "--no-install-recommends",
      "nats-server",
    ]);
    expect(APT_UPDATE).toEqual(["apt-get", "update"]);
  });
});
