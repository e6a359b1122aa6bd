import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFileAtomic, writeCredsFile, writeFileAtomic } from "./atomic-file";
import { parseCreds } from "./creds";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ef-bus-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("atomic files", () => {
  it("replaces content with an owner-only file and leaves no temp file", async () => {
    const path = join(dir, "f");
    await writeFile(path, "old", { mode: 0o644 });
    await writeFileAtomic(path, "new");
    expect(await readFile(path, "utf8")).toBe("new");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(["f"]);
  });

  it("creates only once", async () => {
    const path = join(dir, "f");
    expect(await createFileAtomic(path, "first")).toBe(true);
    expect(await createFileAtomic(path, "second")).toBe(false);
    expect(await readFile(path, "utf8")).toBe("first");
    expect(await readdir(dir)).toEqual(["f"]);
  });

  it("writes a parseable owner-only creds file", async () => {
    const path = join(dir, "device.creds");
    const seed = "SUAGIEYODKBBTUMOB666Z5KA4FCWAZV7HWSGRHOD7MK6UM5IMUJ6GH7OTI";
    await writeCredsFile(path, "a.b.c", seed);
    expect(parseCreds(await readFile(path))).toEqual({ jwt: "a.b.c", seed });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });
});
