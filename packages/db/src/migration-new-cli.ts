// `npm run migration:new -w @edgefleet/db -- <name>`: writes the SQL that takes the database the
// existing migrations produce to prisma/schema.prisma, as prisma/migrations/<utc>_<name>/.
// `-- --check`: only report whether schema and migrations disagree (exit 1 if they do).
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { defaultMigrationsDir, migrate, withDatabase } from "./migrator";
import { diffSchemas } from "./schema-diff";

const server = withDatabase(
  process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres",
  "postgres",
);

async function withScratchDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `ef_scratch_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    try {
      return await fn(withDatabase(server, name));
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

function timestamp(d = new Date()): string {
  return d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

async function main(args: string[]): Promise<number> {
  const check = args.includes("--check");
  const name = args.find((a) => !a.startsWith("--"));
  if (!check && !name?.match(/^[a-z0-9_]+$/)) {
    console.error("usage: migration:new <name in snake_case> | --check");
    return 2;
  }
  const diff = await withScratchDatabase(async (url) => {
    await migrate(url);
    return diffSchemas("database", "schema", { databaseUrl: url });
  });
  if (!diff.changed) {
    console.log("prisma/schema.prisma and prisma/migrations agree; nothing to write");
    return 0;
  }
  if (check) {
    console.error(`schema and migrations disagree; missing SQL:\n${diff.script}`);
    return 1;
  }
  const dir = join(defaultMigrationsDir, `${timestamp()}_${name}`);
  await mkdir(dir);
  await writeFile(join(dir, "migration.sql"), diff.script);
  console.log(`wrote ${join(dir, "migration.sql")}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
