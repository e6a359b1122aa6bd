import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ArtifactCacheFullError,
  DownloadDigestError,
  EMPTY_STATE,
  LocalStore,
} from "./local-store";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ef-store-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function store(budget: number, ...artifacts: Uint8Array[]) {
  const s = new LocalStore(dir, budget);
  await s.open();
  for (const a of artifacts) {
    const dl = await s.beginDownload(sha(a), a.length, new Set());
    await dl.write(a);
    await dl.commit();
    // Distinct "last used" times, oldest first.
    await new Promise((r) => setTimeout(r, 5));
  }
  return s;
}

describe("LocalStore artifact cache", () => {
  it("keeps what it downloaded under its digest, and finds it again after a restart", async () => {
    const a = bytes(100, 1);
    await store(1000, a);
    const again = new LocalStore(dir, 1000);
    await again.open();
    expect(again.cached()).toEqual(new Set([sha(a)]));
    expect(await again.read(sha(a))).toEqual(a);
  });

  it("refuses bytes that do not hash to the digest, and leaves nothing behind", async () => {
    const s = await store(1000);
    const dl = await s.beginDownload("ab".repeat(32), 10, new Set());
    await dl.write(bytes(10, 2));
    await expect(dl.commit()).rejects.toThrow(DownloadDigestError);
    expect(s.cached().size).toBe(0);
    expect(await readdir(join(dir, "artifacts"))).toEqual([]);
  });

  it.each([
    ["evicts the least recently used to make room", [] as number[], 300, [1, 2]],
    ["never evicts what is kept (serving, last good)", [0], 300, [0, 2]],
  ])("%s", async (_what, keepIdx, size, expectedIdx) => {
    const arts = [bytes(300, 10), bytes(300, 11), bytes(300, 12)];
    const s = await store(1000, arts[0], arts[1]);
    const keep = new Set(keepIdx.map((i) => sha(arts[i])));
    const dl = await s.beginDownload(sha(arts[2]), size, keep);
    await dl.write(arts[2]);
    await dl.commit();
    // 3 x 300 fits in 1000: nothing evicted yet; a fourth forces it.
    const fourth = bytes(300, 13);
    const dl4 = await s.beginDownload(sha(fourth), 300, new Set([...keep, sha(arts[2])]));
    await dl4.write(fourth);
    await dl4.commit();
    const left = [...s.cached()];
    expect(left).toContain(sha(fourth));
    for (const i of expectedIdx) expect(left).toContain(sha(arts[i]));
    expect(left).toHaveLength(3);
  });

  it.each([
    ["larger than the whole budget", 2000, new Set<string>()],
    ["budget held by artifacts in use", 600, "keep-all" as const],
  ])("refuses a download %s", async (_what, size, keep) => {
    const arts = [bytes(300, 20), bytes(300, 21)];
    const s = await store(1000, ...arts);
    const keepSet = keep === "keep-all" ? new Set(arts.map(sha)) : keep;
    await expect(s.beginDownload("cd".repeat(32), size, keepSet)).rejects.toThrow(
      ArtifactCacheFullError,
    );
    expect(s.cached().size).toBe(2);
  });

  it("removes downloads a previous run did not finish", async () => {
    await store(1000);
    await writeFile(join(dir, "artifacts", ".part-123"), "half");
    const s = new LocalStore(dir, 1000);
    await s.open();
    expect(await readdir(join(dir, "artifacts"))).toEqual([]);
  });
});

describe("LocalStore state", () => {
  it("round-trips the persisted state", async () => {
    const s = await store(1000);
    await s.save({ ...EMPTY_STATE, abandoned: [3, 4] });
    const again = new LocalStore(dir, 1000);
    expect((await again.open()).state.abandoned).toEqual([3, 4]);
  });

  it("sets a damaged state file aside and starts empty", async () => {
    await store(1000);
    await writeFile(join(dir, "state.json"), "{not json");
    const s = new LocalStore(dir, 1000);
    const opened = await s.open();
    expect(opened.state).toEqual(EMPTY_STATE);
    expect(opened.damaged).toMatch(/state\.json\.damaged-/);
  });
});
