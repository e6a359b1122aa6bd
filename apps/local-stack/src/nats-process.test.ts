import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureNatsServer, locateNatsServer, NatsServerMissingError } from "./nats-process";

describe("locateNatsServer", () => {
  it.each([
    ["a name on PATH", "sh", "sh"],
    ["an absolute path that exists", "/bin/sh", "/bin/sh"],
  ])("accepts %s", (_what, bin, expected) => {
    expect(locateNatsServer(bin, [])).toBe(expected);
  });

  it("falls back to the usual install locations", () => {
    expect(locateNatsServer("no-such-binary-here", ["/bin/sh"])).toBe("/bin/sh");
  });

  it("is null when it is nowhere", () => {
    expect(locateNatsServer("/nope/nats-server", [])).toBeNull();
    expect(locateNatsServer("no-such-binary-here", [])).toBeNull();
  });
});

// A PATH we control: a fake apt-get that records its arguments and, on install, puts a fake
// nats-server beside itself. It fails until `update` ran when the package lists start missing.
describe("ensureNatsServer", () => {
  let dir: string;
  const calls = async () =>
    (await readFile(join(dir, "apt.log"), "utf8").catch(() => ""))
      .trim()
      .split("\n")
      .filter(Boolean);

  async function fakeApt(opts: { listsMissing?: boolean; broken?: boolean } = {}) {
    const script = [
      "#!/bin/sh",
      `echo "$*" >> "${dir}/apt.log"`,
      `if [ "$1" = update ]; then touch "${dir}/lists"; exit 0; fi`,
      opts.broken ? "exit 100" : "",
      opts.listsMissing ? `[ -e "${dir}/lists" ] || exit 100` : "",
      `printf '#!/bin/sh\\n' > "${dir}/nats-server" && chmod +x "${dir}/nats-server"`,
    ].join("\n");
    await writeFile(join(dir, "apt-get"), script);
    await chmod(join(dir, "apt-get"), 0o755);
  }

  const ensure = (uid: number, lines: string[] = []) =>
    ensureNatsServer("nats-server", {
      fallbacks: [],
      uid,
      env: { PATH: `${dir}:/usr/bin:/bin` },
      log: (line) => lines.push(line),
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ef-fake-apt-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("as root with apt-get, says what it does, installs, and uses the result", async () => {
    await fakeApt();
    const lines: string[] = [];
    expect(await ensure(0, lines)).toBe("nats-server");
    expect(await calls()).toEqual(["install -y --no-install-recommends nats-server"]);
    expect(lines).toEqual([
      "nats-server was not found; installing it: apt-get install -y --no-install-recommends nats-server",
    ]);
  });

  it("refreshes the package lists once when the install fails", async () => {
    await fakeApt({ listsMissing: true });
    expect(await ensure(0)).toBe("nats-server");
    expect(await calls()).toEqual([
      "install -y --no-install-recommends nats-server",
      "update",
      "install -y --no-install-recommends nats-server",
    ]);
  });

  it("gives the instructions when apt-get cannot install it", async () => {
    await fakeApt({ broken: true });
    await expect(ensure(0)).rejects.toThrow(/apt-get failed[\s\S]*apt-get install nats-server/);
  });

  it("does not touch the machine when not root: it says exactly how to get nats-server", async () => {
    await fakeApt();
    const failure = ensure(1000);
    await expect(failure).rejects.toBeInstanceOf(NatsServerMissingError);
    await expect(failure).rejects.toThrow(/apt-get install nats-server/);
    expect(await calls()).toEqual([]);
  });
});
