// What the agent keeps on disk so it serves across restarts and while offline: the newest desired
// state it accepted, what it serves and what served before (for rollback), and a content-
// addressed artifact cache with a size budget. State is written atomically (fsync + rename)
// before anything is reported applied; artifacts are written under a temp name and renamed to
// their sha256 only when the bytes hash to it.
//
// Downloads resume: a partial file `.part-<digest>` and its checkpoint `.part-<digest>.json`
// (where the object read stands, and the sha256 of the bytes up to there) are kept when a
// download stops (a lost connection, the process killed). The next download of that digest
// checks the partial against its checkpoint (a shorter file or other bytes: thrown away and
// fetched again) and continues from it. Before writing, free disk space is checked (statfs) and
// least recently used artifacts are evicted for it; ENOSPC during the write is handled the same:
// the partial is removed and the download fails with what it needed.
import { createHash, type Hash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  statfs,
  truncate,
  utimes,
} from "node:fs/promises";
import { join } from "node:path";
import { type ObjectResumePoint, writeFileAtomic } from "@edgefleet/bus";
import {
  artifactManifestSchema,
  desiredStateSchema,
  runtimeOptionsSchema,
} from "@edgefleet/protocol";
import { z } from "zod";

const canaryOutcomeSchema = z.union([
  z.object({
    digest: z.string(),
    samples: z.number().int().nonnegative(),
    correct: z.number().int().nonnegative(),
  }),
  z.object({ digest: z.string(), error: z.string() }),
]);

const installedSchema = z.object({
  generation: z.number().int().nonnegative(),
  manifest: artifactManifestSchema,
  signature: z.string(),
  options: runtimeOptionsSchema,
  /** Absent in states written before canary sets existed. */
  canary: canaryOutcomeSchema.optional(),
});

const persistedSchema = z.object({
  version: z.literal(1),
  desired: desiredStateSchema.nullable(),
  serving: installedSchema.nullable(),
  lastGood: installedSchema.nullable(),
  abandoned: z.array(z.number().int()).max(1000),
});
export type PersistedState = z.infer<typeof persistedSchema>;

export const EMPTY_STATE: PersistedState = {
  version: 1,
  desired: null,
  serving: null,
  lastGood: null,
  abandoned: [],
};

const DIGEST = /^[0-9a-f]{64}$/;
const PARTIAL = /^\.part-([0-9a-f]{64})(\.json)?$/;

const checkpointSchema = z.object({
  point: z.object({
    nuid: z.string().min(1),
    seq: z.number().int().nonnegative(),
    chunk: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
  }),
  /** sha256 (hex) of the partial file's first `point.bytes` bytes. */
  prefixSha256: z.string().regex(DIGEST),
});

/** A checkpoint is written (after an fsync of the partial) at least every this many bytes. */
const CHECKPOINT_BYTES = 2 ** 20;
/** Room left free on the disk besides an artifact (state file, logs). */
const DISK_HEADROOM_BYTES = 2 ** 20;

const mb = (n: number) => (n / 2 ** 20).toFixed(1);

export class InsufficientSpaceError extends Error {
  override name = "InsufficientSpaceError";
}

/**
 * The one wording of "too little disk", whether refused up front or hit by ENOSPC mid-write:
 * "not enough disk space for artifact 1a2b…: needs 24.0 MB, 15.5 MB free (…)".
 */
export function insufficientSpace(
  digest: string,
  neededBytes: number,
  freeBytes: number,
  detail?: { note: string; cause: unknown },
): InsufficientSpaceError {
  const text = `not enough disk space for artifact ${digest.slice(0, 12)}…: needs ${mb(neededBytes)} MB, ${mb(freeBytes)} MB free`;
  return detail
    ? new InsufficientSpaceError(`${text} (${detail.note})`, { cause: detail.cause })
    : new InsufficientSpaceError(text);
}

/** Where a kept partial download continues, for the object read. */
export interface ResumeFrom {
  point: ObjectResumePoint;
  /** The stored object is not the one the partial came from: start the file over. */
  restart(): Promise<void>;
}

/** Streams an artifact from the object store, from `from` when given; throws when offline. */
export type FetchArtifact = (
  digest: string,
  onChunk: (chunk: Uint8Array, next?: ObjectResumePoint) => Promise<void>,
  from?: ResumeFrom,
) => Promise<void>;

export class ArtifactCacheFullError extends Error {
  override name = "ArtifactCacheFullError";
}

export class DownloadDigestError extends Error {
  override name = "DownloadDigestError";
}

export interface Download {
  /** Set when a partial file from an earlier download was checked and is continued. */
  readonly resumeFrom: ResumeFrom | undefined;
  /** Bytes kept from the earlier download (0 when starting from the beginning). */
  readonly resumedBytes: number;
  /** What happened to an earlier partial, for the log (resumed, or why it was thrown away). */
  readonly partialNote: string | undefined;
  /** `next`: where the object read stands after this chunk (enables checkpoints to resume). */
  write(chunk: Uint8Array, next?: ObjectResumePoint): Promise<void>;
  /** Moves the bytes into the cache if they hash to `digest`; otherwise removes them and throws. */
  commit(): Promise<void>;
  /** Closes the file and keeps the partial and its last checkpoint for a later resume. */
  suspend(): Promise<void>;
  /** Removes the partial file and its checkpoint. */
  abort(): Promise<void>;
}

export interface LocalStoreOptions {
  /** Free bytes on the file system holding `dir` (default: statfs). */
  freeBytes?(dir: string): Promise<number>;
}

export class LocalStore {
  private readonly cache = new Map<string, { bytes: number; usedAt: number }>();
  private readonly active = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly cacheBudgetBytes: number,
    private readonly opts: LocalStoreOptions = {},
  ) {}

  private freeBytes(): Promise<number> {
    if (this.opts.freeBytes) return this.opts.freeBytes(this.artifactDir);
    return statfs(this.artifactDir).then((s) => s.bavail * s.bsize);
  }

  partialPath(digest: string): string {
    this.artifactPath(digest);
    return join(this.artifactDir, `.part-${digest}`);
  }

  private get statePath() {
    return join(this.dir, "state.json");
  }
  private get artifactDir() {
    return join(this.dir, "artifacts");
  }
  artifactPath(digest: string): string {
    if (!DIGEST.test(digest)) throw new Error(`not a sha256 digest: ${digest}`);
    return join(this.artifactDir, digest);
  }

  /** Reads the persisted state (a damaged file is set aside, not fatal) and indexes the cache. */
  async open(): Promise<{ state: PersistedState; damaged?: string }> {
    await mkdir(this.artifactDir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.artifactDir)) {
      const path = join(this.artifactDir, name);
      if (PARTIAL.test(name)) continue; // a download to resume (checked when it resumes)
      if (!DIGEST.test(name)) {
        // A download of the previous run that cannot be resumed.
        await rm(path, { force: true });
        continue;
      }
      const st = await stat(path);
      this.cache.set(name, { bytes: st.size, usedAt: st.mtimeMs });
    }
    let text: string;
    try {
      text = await readFile(this.statePath, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: EMPTY_STATE };
      throw err;
    }
    const parsed = persistedSchema.safeParse(safeJson(text));
    if (parsed.success) return { state: parsed.data };
    const aside = `${this.statePath}.damaged-${Date.now()}`;
    await rename(this.statePath, aside);
    return { state: EMPTY_STATE, damaged: aside };
  }

  async save(state: PersistedState): Promise<void> {
    await writeFileAtomic(this.statePath, `${JSON.stringify(state)}\n`);
  }

  cached(): Set<string> {
    return new Set(this.cache.keys());
  }

  async read(digest: string): Promise<Uint8Array> {
    const path = this.artifactPath(digest);
    const bytes = new Uint8Array(await readFile(path));
    const now = new Date();
    await utimes(path, now, now).catch(() => {});
    const entry = this.cache.get(digest);
    if (entry) entry.usedAt = now.getTime();
    return bytes;
  }

  /** Forgets a cached artifact that turned out bad, so it is downloaded again. */
  async discard(digest: string): Promise<void> {
    this.cache.delete(digest);
    await rm(this.artifactPath(digest), { force: true });
  }

  /**
   * Starts writing `digest` (`bytes` long), continuing a partial file an earlier download left
   * when its checkpoint still matches it. Makes room first by evicting least recently used
   * artifacts outside `keep` (for the cache budget, then for free disk space); refuses when even
   * that leaves too little, removing the partial.
   */
  async beginDownload(digest: string, bytes: number, keep: ReadonlySet<string>): Promise<Download> {
    await this.makeRoom(bytes, keep);
    if (this.active.has(digest)) {
      // Another download of the same digest is under way: this one writes a file of its own.
      const tmp = join(this.artifactDir, `.tmp-${randomBytes(6).toString("hex")}`);
      await this.makeDiskRoom(digest, bytes, keep, tmp);
      return this.writer(
        digest,
        bytes,
        tmp,
        undefined,
        await open(tmp, "wx", 0o600),
        createHash("sha256"),
        0,
      );
    }
    const part = this.partialPath(digest);
    const checkpoint = `${part}.json`;
    const kept = await this.checkPartial(part, checkpoint);
    await this.makeDiskRoom(digest, bytes - (kept.hash ? kept.point.bytes : 0), keep, part);
    this.active.add(digest);
    try {
      if (kept.hash) {
        return this.writer(
          digest,
          bytes,
          part,
          kept,
          await open(part, "r+"),
          kept.hash,
          kept.point.bytes,
        );
      }
      await rm(checkpoint, { force: true });
      return this.writer(
        digest,
        bytes,
        part,
        kept,
        await open(part, "w", 0o600),
        createHash("sha256"),
        0,
      );
    } catch (err) {
      this.active.delete(digest);
      throw err;
    }
  }

  /** The partial left by an earlier download, checked against its checkpoint. */
  private async checkPartial(
    part: string,
    checkpoint: string,
  ): Promise<{ point: ObjectResumePoint; hash?: Hash; note?: string }> {
    const none = { point: { nuid: "", seq: 0, chunk: 0, bytes: 0 } };
    const size = await stat(part).then(
      (s) => s.size,
      () => -1,
    );
    if (size < 0) return none;
    const cp = checkpointSchema.safeParse(
      safeJson(await readFile(checkpoint, "utf8").catch(() => "")),
    );
    if (!cp.success)
      return { ...none, note: `partial of ${size} bytes had no checkpoint: fetched again` };
    const { point, prefixSha256 } = cp.data;
    if (size < point.bytes) {
      return {
        ...none,
        note: `partial truncated (${size} of ${point.bytes} bytes): fetched again`,
      };
    }
    // Bytes written after the last checkpoint are not vouched for: cut them off.
    if (size > point.bytes) await truncate(part, point.bytes);
    const hash = createHash("sha256");
    if (point.bytes > 0) {
      for await (const piece of createReadStream(part, { end: point.bytes - 1 }))
        hash.update(piece);
    }
    if (hash.copy().digest("hex") !== prefixSha256) {
      return {
        ...none,
        note: `partial corrupt (its ${point.bytes} bytes do not match the checkpoint): fetched again`,
      };
    }
    return { point, hash, note: `resumed at ${point.bytes} bytes (chunk ${point.chunk})` };
  }

  private writer(
    digest: string,
    total: number,
    path: string,
    kept: { point: ObjectResumePoint; hash?: Hash; note?: string } | undefined,
    first: FileHandle,
    firstHash: Hash,
    start: number,
  ): Download {
    const fh = first;
    let hash = firstHash;
    let written = start;
    let sinceCheckpoint = 0;
    let closed = false;
    const resumable = path === this.partialPath(digest);
    const checkpoint = `${path}.json`;
    const close = async () => {
      if (closed) return;
      closed = true;
      if (resumable) this.active.delete(digest);
      await fh.close().catch(() => {});
    };
    const abort = async () => {
      await close();
      await rm(path, { force: true });
      await rm(checkpoint, { force: true });
    };
    const diskFull = async (err: unknown): Promise<never> => {
      if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
      await abort();
      const free = await this.freeBytes().catch(() => 0);
      throw insufficientSpace(digest, total, free, {
        note: `disk full (ENOSPC) at ${mb(written)} MB; partial removed`,
        cause: err,
      });
    };
    const resumeFrom: ResumeFrom | undefined =
      kept?.hash && start > 0
        ? {
            point: kept.point,
            restart: async () => {
              await fh.truncate(0);
              await rm(checkpoint, { force: true });
              hash = createHash("sha256");
              written = 0;
            },
          }
        : undefined;
    return {
      resumeFrom,
      resumedBytes: start,
      partialNote: kept?.note,
      write: async (chunk, next) => {
        try {
          await fh.write(chunk, 0, chunk.length, written);
          hash.update(chunk);
          written += chunk.length;
          sinceCheckpoint += chunk.length;
          if (resumable && next && sinceCheckpoint >= CHECKPOINT_BYTES) {
            sinceCheckpoint = 0;
            await fh.datasync();
            await writeFileAtomic(
              checkpoint,
              JSON.stringify({ point: next, prefixSha256: hash.copy().digest("hex") }),
            );
          }
        } catch (err) {
          await diskFull(err);
        }
      },
      commit: async () => {
        try {
          await fh.sync();
        } catch (err) {
          await diskFull(err);
        }
        await close();
        const actual = hash.digest("hex");
        if (actual !== digest) {
          await abort();
          throw new DownloadDigestError(
            `downloaded bytes hash to ${actual.slice(0, 12)}…, the manifest says ${digest.slice(0, 12)}…`,
          );
        }
        await rename(path, this.artifactPath(digest));
        await rm(checkpoint, { force: true });
        this.cache.set(digest, { bytes: written, usedAt: Date.now() });
      },
      suspend: async () => {
        if (!resumable) return abort();
        await close();
      },
      abort,
    };
  }

  /** Evicts LRU artifacts outside `keep` until `needed` bytes fit on the disk, or refuses. */
  private async makeDiskRoom(
    digest: string,
    needed: number,
    keep: ReadonlySet<string>,
    partial: string,
  ): Promise<void> {
    const evictable = [...this.cache.entries()]
      .filter(([d]) => !keep.has(d) && d !== digest)
      .sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (;;) {
      const free = await this.freeBytes();
      if (needed + DISK_HEADROOM_BYTES <= free) return;
      const next = evictable.shift();
      if (!next) {
        await rm(partial, { force: true });
        await rm(`${partial}.json`, { force: true });
        throw insufficientSpace(digest, needed, free);
      }
      await this.discard(next[0]);
    }
  }

  private async makeRoom(bytes: number, keep: ReadonlySet<string>): Promise<void> {
    if (bytes > this.cacheBudgetBytes) {
      throw new ArtifactCacheFullError(
        `artifact of ${bytes} bytes is larger than the cache budget of ${this.cacheBudgetBytes}`,
      );
    }
    const used = () => [...this.cache.values()].reduce((a, e) => a + e.bytes, 0);
    const evictable = [...this.cache.entries()]
      .filter(([d]) => !keep.has(d))
      .sort((a, b) => a[1].usedAt - b[1].usedAt);
    while (used() + bytes > this.cacheBudgetBytes) {
      const next = evictable.shift();
      if (!next) {
        throw new ArtifactCacheFullError(
          `no room for ${bytes} bytes: the cache budget (${this.cacheBudgetBytes}) is held by artifacts in use`,
        );
      }
      await this.discard(next[0]);
    }
  }
}

/**
 * One download into the cache through `fetch`, resuming a kept partial. A failure to reach the
 * object store keeps the partial for the next try; a full disk or bytes that do not hash to the
 * digest remove it.
 */
export async function runDownload(
  store: LocalStore,
  fetch: FetchArtifact,
  digest: string,
  bytes: number,
  keep: ReadonlySet<string>,
  log?: { info(o: object, msg: string): void },
): Promise<{ resumedBytes: number }> {
  const dl = await store.beginDownload(digest, bytes, keep);
  if (dl.partialNote) log?.info({ digest, bytes }, `artifact download: ${dl.partialNote}`);
  try {
    await fetch(digest, (chunk, next) => dl.write(chunk, next), dl.resumeFrom);
  } catch (err) {
    if (err instanceof InsufficientSpaceError) throw err; // the partial is gone already
    await dl.suspend();
    throw err;
  }
  await dl.commit();
  return { resumedBytes: dl.resumedBytes };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
