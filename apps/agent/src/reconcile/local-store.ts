// What the agent keeps on disk so it serves across restarts and while offline: the newest desired
// state it accepted, what it serves and what served before (for rollback), and a content-
// addressed artifact cache with a size budget. State is written atomically (fsync + rename)
// before anything is reported applied; artifacts are written under a temp name and renamed to
// their sha256 only when the bytes hash to it.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@edgefleet/bus";
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

export class ArtifactCacheFullError extends Error {
  override name = "ArtifactCacheFullError";
}

export class DownloadDigestError extends Error {
  override name = "DownloadDigestError";
}

export interface Download {
  write(chunk: Uint8Array): Promise<void>;
  /** Moves the bytes into the cache if they hash to `digest`; otherwise removes them and throws. */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export class LocalStore {
  private readonly cache = new Map<string, { bytes: number; usedAt: number }>();

  constructor(
    private readonly dir: string,
    private readonly cacheBudgetBytes: number,
  ) {}

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
      if (!DIGEST.test(name)) {
        // A download the previous run did not finish.
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
   * Starts writing `digest` (`bytes` long). Makes room first by evicting least recently used
   * artifacts outside `keep`; refuses when even that leaves too little.
   */
  async beginDownload(digest: string, bytes: number, keep: ReadonlySet<string>): Promise<Download> {
    await this.makeRoom(bytes, keep);
    const tmp = join(this.artifactDir, `.part-${randomBytes(6).toString("hex")}`);
    const fh = await open(tmp, "wx", 0o600);
    const hash = createHash("sha256");
    let written = 0;
    const abort = async () => {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
    };
    return {
      write: async (chunk) => {
        hash.update(chunk);
        written += chunk.length;
        await fh.write(chunk);
      },
      commit: async () => {
        await fh.sync();
        await fh.close();
        const actual = hash.digest("hex");
        if (actual !== digest) {
          await rm(tmp, { force: true });
          throw new DownloadDigestError(
            `downloaded bytes hash to ${actual.slice(0, 12)}…, the manifest says ${digest.slice(0, 12)}…`,
          );
        }
        await rename(tmp, this.artifactPath(digest));
        this.cache.set(digest, { bytes: written, usedAt: Date.now() });
      },
      abort,
    };
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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
