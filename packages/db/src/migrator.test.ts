import { describe, expect, it } from "vitest";
import {
  checksum,
  type Migration,
  MigrationChecksumError,
  MigrationIncompleteError,
  migrationsFingerprint,
  pendingMigrations,
} from "./migrator";

const m = (name: string, sql = `-- ${name}`): Migration => ({ name, sql, checksum: checksum(sql) });
const row = (mig: Migration, finished = true, sum = mig.checksum) => ({
  migration_name: mig.name,
  checksum: sum,
  finished_at: finished ? new Date() : null,
});

const a = m("20260101000000_a");
const b = m("20260102000000_b");
const c = m("20260103000000_c");

describe("pendingMigrations", () => {
  it.each([
    { what: "nothing applied", rows: [], pending: [a, b, c] },
    { what: "some applied", rows: [row(a)], pending: [b, c] },
    { what: "all applied", rows: [row(a), row(b), row(c)], pending: [] },
    { what: "a gap is filled", rows: [row(a), row(c)], pending: [b] },
    { what: "unknown applied rows are ignored", rows: [row(m("x_gone"))], pending: [a, b, c] },
  ])("$what", ({ rows, pending }) => {
    expect(pendingMigrations([a, b, c], rows).map((x) => x.name)).toEqual(
      pending.map((x) => x.name),
    );
  });

  it("refuses an applied migration whose file changed", () => {
    expect(() => pendingMigrations([a, b], [row(a, true, checksum("-- other"))])).toThrow(
      MigrationChecksumError,
    );
  });

  it("refuses a migration recorded as started but never finished", () => {
    expect(() => pendingMigrations([a, b], [row(a, false)])).toThrow(MigrationIncompleteError);
  });
});

describe("checksum and fingerprint", () => {
  it("checksum is sha256 hex of the file", () => {
    expect(checksum("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("fingerprint changes when a migration is added or edited", () => {
    const base = migrationsFingerprint([a, b]);
    expect(migrationsFingerprint([a, b])).toBe(base);
    expect(migrationsFingerprint([a, b, c])).not.toBe(base);
    expect(migrationsFingerprint([a, m(b.name, "-- edited")])).not.toBe(base);
  });
});
