import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FLEET_AUTH_FILE, FleetAuthFileError, loadOrCreateFleetAuth } from "./fleet-auth-store";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ef-bus-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadOrCreateFleetAuth", () => {
  it("creates an owner-only file and returns the same identity on the next load", async () => {
    const stateDir = join(dir, "state");
    const first = await loadOrCreateFleetAuth(stateDir);
    const path = join(stateDir, FLEET_AUTH_FILE);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateFleetAuth(stateDir);
    expect(second).toEqual(first);
  });

  it("leaves no temp files behind", async () => {
    await loadOrCreateFleetAuth(dir);
    const { readdir } = await import("node:fs/promises");
    expect(await readdir(dir)).toEqual([FLEET_AUTH_FILE]);
  });

  it("re-issues stale JWTs from the stored seeds and keeps the keys", async () => {
    const first = await loadOrCreateFleetAuth(dir);
    const path = join(dir, FLEET_AUTH_FILE);
    const file = JSON.parse(await readFile(path, "utf8"));
    file.auth.fleetAccount.jwt = first.systemAccount.jwt;
    await writeFile(path, JSON.stringify(file), { mode: 0o644 });
    const again = await loadOrCreateFleetAuth(dir);
    expect(again.fleetAccount.publicKey).toBe(first.fleetAccount.publicKey);
    expect(again.fleetAccount.jwt).not.toBe(first.systemAccount.jwt);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it.each([
    ["not JSON", "{"],
    ["wrong version", JSON.stringify({ version: 99, auth: {} })],
    ["missing seeds", JSON.stringify({ version: 1, auth: { operator: {} } })],
  ])("refuses a file that is %s", async (_what, text) => {
    await writeFile(join(dir, FLEET_AUTH_FILE), text);
    await expect(loadOrCreateFleetAuth(dir)).rejects.toBeInstanceOf(FleetAuthFileError);
  });
});

describe("concurrent first start", () => {
  it("gives every caller the same identity", async () => {
    const all = await Promise.all(Array.from({ length: 5 }, () => loadOrCreateFleetAuth(dir)));
    const keys = new Set(all.map((a) => a.operator.publicKey));
    expect(keys.size).toBe(1);
    const onDisk = JSON.parse(await readFile(join(dir, FLEET_AUTH_FILE), "utf8"));
    expect(onDisk.auth.operator.publicKey).toBe(all[0].operator.publicKey);
  });
});
