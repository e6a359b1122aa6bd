// `npm run migrate -w @edgefleet/db`: create the database if needed and apply pending migrations.
import { ensureDatabase, migrate, redactUrl } from "./migrator";

const url = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/edgefleet";

async function main(): Promise<void> {
  if (await ensureDatabase(url)) console.log(`created database ${redactUrl(url)}`);
  const { applied } = await migrate(url, { log: (m) => console.log(m) });
  console.log(
    applied.length
      ? `${applied.length} migration(s) applied to ${redactUrl(url)}`
      : `${redactUrl(url)} is up to date`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exitCode = 1;
});
