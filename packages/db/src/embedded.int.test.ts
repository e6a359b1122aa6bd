import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

let parent: string | undefined;
afterAll(async () => {
  if (parent) await rm(parent, { recursive: true, force: true });
});

describe("startEmbeddedPostgres", () => {
  it("initialises a cluster once and reuses it on the next start", {
    timeout: 60_000,
  }, async () => {
    parent = await mkdtemp(join(tmpdir(), "ef-embedded-"));
    // mkdtemp makes it 0700; as root the server runs as `postgres`, which must traverse it.
    await chmod(parent, 0o755);
    const dataDir = join(parent, "pg");
    const port = await freePort();

    const first = await startEmbeddedPostgres({ dataDir, port, database: "fleet" });
    try {
      expect(first.url).toBe(`postgresql://postgres:postgres@127.0.0.1:${port}/fleet`);
      await query(first.url, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)");
    } finally {
      await first.stop();
    }

    const second = await startEmbeddedPostgres({ dataDir, port, database: "fleet" });
    try {
      expect(await query(second.url, "SELECT v FROM kept")).toEqual([{ v: 42 }]);
    } finally {
      await second.stop();
    }
  });
});
