// Resumable downloads and disk space in the local store: a fake object read (chunks with resume
// points, as @edgefleet/bus readObject gives them) stopped part way, then resumed by a new store
// over the same directory (a restarted process); partials that are truncated, corrupt or without
// a checkpoint are fetched again; a disk too small is refused before writing (statfs) and ENOSPC
// while writing (a real tmpfs) removes the partial.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, open, readdir, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ObjectResumePoint } from "@edgefleet/bus";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FetchArtifact, InsufficientSpaceError, LocalStore, runDownload } from "./local-store";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ef-resume-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CHUNK = 128 * 1024;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
function artifact(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 9)) & 0xff;
  return b;
}

/** An object store holding `data` as one object; counts bytes served; can fail after N chunks. */
function fakeObject(data: Uint8Array, nuid = "N1") {
  const chunks = Math.ceil(data.length / CHUNK);
  const served = { bytes: 0, from: [] as number[], restarts: 0 };
  let failAfter = Number.POSITIVE_INFINITY;
  const fetch: FetchArtifact = async (_digest, onChunk, from) => {
    let start = 0;
    if (from && from.point.nuid === nuid) start = from.point.chunk;
    else if (from) {
      served.restarts++;
      await from.restart();
    }
    served.from.push(start * CHUNK);
    for (let c = start; c < chunks; c++) {
      if (c - start >= failAfter) throw new Error("connection lost");
      const piece = data.subarray(c * CHUNK, (c + 1) * CHUNK);
      served.bytes += piece.length;
      const next: ObjectResumePoint = { nuid, seq: c + 100, chunk: c + 1, bytes: (c + 1) * CHUNK };
      await onChunk(piece, { ...next, bytes: Math.min(next.bytes, data.length) });
    }
  };
  return {
    fetch,
    served,
    failAfter(n: number) {
      failAfter = n;
    },
  };
}

async function openStore(opts = {}) {
  const s = new LocalStore(dir, 2 ** 30, opts);
  await s.open();
  return s;
}

describe("resumable downloads", () => {
  const data = artifact(40 * CHUNK + 1000); // 5 MB, 41 chunks
  const digest = sha(data);

  async function stopHalfWay(o: ReturnType<typeof fakeObject>) {
    const s = await openStore();
    o.failAfter(20);
    await expect(runDownload(s, o.fetch, digest, data.length, new Set())).rejects.toThrow(
      "connection lost",
    );
    o.failAfter(Number.POSITIVE_INFINITY);
    const names = await readdir(join(dir, "artifacts"));
    expect(names.sort()).toEqual([`.part-${digest}`, `.part-${digest}.json`]);
    return join(dir, "artifacts", `.part-${digest}`);
  }

  it("a new store over the same dir (a restart) continues from the last checkpoint", async () => {
    const o = fakeObject(data);
    await stopHalfWay(o);
    const s = await openStore();
    const r = await runDownload(s, o.fetch, digest, data.length, new Set());
    // Checkpoints every 1 MiB: what was fetched before the last one is kept.
    expect(r.resumedBytes).toBe(16 * CHUNK);
    expect(o.served.from).toEqual([0, 16 * CHUNK]);
    expect(o.served.bytes).toBe(data.length + 4 * CHUNK);
    expect(sha(await s.read(digest))).toBe(digest);
    expect((await readdir(join(dir, "artifacts"))).sort()).toEqual([digest]);
  });

  it.each([
    [
      "truncated below its checkpoint",
      (p: string) => truncate(p, 3 * CHUNK),
      /partial truncated \(393216 of 2097152 bytes\)/,
    ],
    [
      "corrupt (a byte flipped before the checkpoint)",
      async (p: string) => {
        const fh = await open(p, "r+");
        await fh.write(new Uint8Array([0xee ^ data[5000]]), 0, 1, 5000);
        await fh.close();
      },
      /partial corrupt/,
    ],
    ["without its checkpoint", (p: string) => rm(`${p}.json`), /had no checkpoint/],
  ])("a partial %s is thrown away and fetched again", async (_what, damage, note) => {
    const o = fakeObject(data);
    const part = await stopHalfWay(o);
    await damage(part);
    const s = await openStore();
    const dl = await s.beginDownload(digest, data.length, new Set());
    expect(dl.partialNote).toMatch(note);
    expect(dl.resumeFrom).toBeUndefined();
    await o.fetch(digest, (c, n) => dl.write(c, n), dl.resumeFrom);
    await dl.commit();
    expect(o.served.from).toEqual([0, 0]);
    expect(sha(await s.read(digest))).toBe(digest);
  });

  it("an object stored again under another nuid starts the partial over", async () => {
    await stopHalfWay(fakeObject(data, "N1"));
    const o = fakeObject(data, "N2");
    const s = await openStore();
    await runDownload(s, o.fetch, digest, data.length, new Set());
    expect(o.served.restarts).toBe(1);
    expect(o.served.from).toEqual([0]);
    expect(sha(await s.read(digest))).toBe(digest);
  });
});

describe("disk space", () => {
  it("refuses before writing when statfs says it does not fit, naming what it needs", async () => {
    const data = artifact(4 * 2 ** 20);
    const s = await openStore({ freeBytes: async () => 2 ** 20 });
    const o = fakeObject(data);
    const err = await runDownload(s, o.fetch, sha(data), data.length, new Set()).catch((e) => e);
    expect(err).toBeInstanceOf(InsufficientSpaceError);
    expect(err.message).toMatch(/needs 4\.0 MB, 1\.0 MB free/);
    expect(o.served.bytes).toBe(0);
    expect(await readdir(join(dir, "artifacts"))).toEqual([]);
  });

  it("evicts least recently used artifacts outside `keep` to make disk room", async () => {
    const old = artifact(2 ** 20 + 7);
    const data = artifact(2 ** 20);
    let free = 10 * 2 ** 20;
    const s = await openStore({ freeBytes: async () => free });
    await runDownload(s, fakeObject(old).fetch, sha(old), old.length, new Set());
    free = 2 ** 20 + 10; // too little for the next one plus headroom, unless `old` goes
    const discard = s.discard.bind(s);
    s.discard = async (d) => {
      free += 2 ** 20;
      await discard(d);
    };
    await runDownload(s, fakeObject(data).fetch, sha(data), data.length, new Set());
    expect(s.cached()).toEqual(new Set([sha(data)]));
  });

  const canMount = process.getuid?.() === 0;
  it.skipIf(!canMount)(
    "ENOSPC while writing (statfs fooled, a real 3 MB tmpfs) removes the partial and says what it needed",
    async () => {
      const mnt = await mkdtemp(join(tmpdir(), "ef-tmpfs-"));
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt]);
      try {
        dir = mnt;
        const s = await openStore({ freeBytes: async () => 2 ** 30 });
        const data = artifact(5 * 2 ** 20);
        const o = fakeObject(data);
        const err = await runDownload(s, o.fetch, sha(data), data.length, new Set()).catch(
          (e) => e,
        );
        expect(err).toBeInstanceOf(InsufficientSpaceError);
        expect(err.message).toMatch(
          /^not enough disk space for artifact .*: needs 5\.0 MB, .* MB free \(disk full \(ENOSPC\) at .* MB; partial removed\)$/,
        );
        expect(await readdir(join(mnt, "artifacts"))).toEqual([]);
        // Room is back: a small one fits.
        const small = artifact(2 ** 19);
        await runDownload(s, fakeObject(small).fetch, sha(small), small.length, new Set());
        expect(s.cached()).toEqual(new Set([sha(small)]));
      } finally {
        execFileSync("umount", [mnt]);
        await rm(mnt, { recursive: true, force: true });
        dir = await mkdtemp(join(tmpdir(), "ef-resume-"));
      }
    },
  );
});
