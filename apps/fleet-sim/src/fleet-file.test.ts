import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUserKey } from "@edgefleet/bus";
import { afterAll, describe, expect, it } from "vitest";
import { type FleetFile, FleetFileError, loadFleetFile, saveFleetFile } from "./fleet-file";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const tempPath = async () => {
  const dir = await mkdtemp(join(tmpdir(), "ef-sim-"));
  dirs.push(dir);
  return join(dir, "fleet.json");
};

const fleet = (n: number): FleetFile => ({
  version: 1,
  runs: 2,
  natsUrls: ["nats://127.0.0.1:4222"],
  heartbeatIntervalMs: 5000,
  artifactPublicKey: "",
  devices: Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    name: `sim-${i}`,
    deviceClass: "rpi4" as const,
    ...createUserKey(),
    jwt: "a.b.c",
    registeredBy: "bulk" as const,
    profiled: i % 2 === 0,
  })),
});

describe("fleet file", () => {
  it("round-trips, one device a line, owner-only", async () => {
    const path = await tempPath();
    const f = fleet(3);
    await saveFleetFile(path, f);
    expect(await loadFleetFile(path)).toEqual(f);
    const lines = (await readFile(path, "utf8")).split("\n");
    expect(lines.filter((l) => l.includes('"seed"'))).toHaveLength(3);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await saveFleetFile(path, fleet(0));
    expect((await loadFleetFile(path))?.devices).toEqual([]);
  });

  it("is absent before the first run and refused when damaged", async () => {
    const path = await tempPath();
    expect(await loadFleetFile(path)).toBeUndefined();
    await writeFile(path, "{");
    await expect(loadFleetFile(path)).rejects.toThrow(FleetFileError);
    await writeFile(path, JSON.stringify({ ...fleet(1), version: 2 }));
    await expect(loadFleetFile(path)).rejects.toThrow("version");
  });
});
