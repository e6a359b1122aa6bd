// Shared pieces of the fuzz suites (issue 11): one seed, bad JSON values by kind, and what a
// rejected input must leave unchanged (row counts) or count (metrics).
import type { PrismaClient } from "@edgefleet/db";
import fc from "fast-check";

/** Fixed, so a failure replays; FUZZ_SEED=<n> explores another part of the input space. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261203);

export function fuzzParams(numRuns: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns, endOnFailure: true };
}

/** Raw JSON text (not values: `1e999` parses as Infinity, `NaN` is no JSON at all). */
const everywhereBad = ['"7"', "null", "true", "[]", "{}", "NaN", "[1,2,3]"];
/** Bad for any non-negative integer. */
export const badInteger = fc.oneof(
  fc.constantFrom(...everywhereBad, "-1", "1.5", "1e999", "-1e999", "1e300", "9007199254740993"),
  fc.integer({ max: -1 }).map(String),
);
/** Bad for a non-negative integer that a Postgres `integer` column stores. */
export const badCount = fc.oneof(
  badInteger,
  fc.constantFrom("2147483648"),
  fc.double({ min: 2 ** 31, max: 1e300, noNaN: true }).map(String),
);
/** Bad for ms since 1970. */
export const badTime = fc.constantFrom(
  ...everywhereBad,
  "-1",
  "0",
  "1.5",
  "1e16",
  "8640000000000000",
  "1e999",
);
/** Bad for a short text stored in Postgres: wrong types, NUL, far too long. */
export const badText = fc.oneof(
  fc.constantFrom("7", "null", "[]", "{}", '"\\u0000"', '"a\\u0000b"'),
  fc.integer({ min: 2_000, max: 200_000 }).map((n) => JSON.stringify("x".repeat(n))),
);
/** Bytes that are no JSON at all. */
export const notJson = fc
  .uint8Array({ minLength: 1, maxLength: 300 })
  .filter((b) => !isJson(new TextDecoder().decode(b)));

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** `message` as JSON text with the field at dotted `path` replaced by `raw` (or left out). */
export function withRaw(message: object, path: string, raw: string | undefined): string {
  const copy = structuredClone(message) as Record<string, unknown>;
  const keys = path.split(".");
  let at = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  const last = keys[keys.length - 1] as string;
  if (raw === undefined) {
    delete at[last];
    return JSON.stringify(copy);
  }
  at[last] = "\u0001RAW\u0001";
  return JSON.stringify(copy).replace('"\\u0001RAW\\u0001"', raw);
}

/** Rows per table: what a rejected input must leave as it was. */
export async function tableCounts(prisma: PrismaClient): Promise<Record<string, number>> {
  const tables = await prisma.$queryRaw<{ name: string }[]>`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
      AND table_name <> '_prisma_migrations' ORDER BY table_name`;
  const out: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await prisma.$queryRawUnsafe<{ n: bigint }[]>(
      `SELECT count(*) AS n FROM "${name.replaceAll('"', '""')}"`,
    );
    out[name] = Number(row?.n ?? 0);
  }
  return out;
}

/** One sample of a Prometheus counter from the control plane's /metrics (0 before its first). */
export async function metricValue(
  httpUrl: string,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf("}"));
    if (want.every((w) => labelText.split(",").includes(w))) return Number(line.split(" ").pop());
  }
  return 0;
}
