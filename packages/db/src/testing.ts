// Test databases with this package's schema: testkit's createTestDatabase, given our migrator.
// An entry of its own (`@edgefleet/db/testing`) so that only tests load testkit, which is a
// devDependency here; testkit itself depends on no schema, so the package graph has no cycle.
import {
  createTestDatabase as createDatabase,
  type DatabaseTemplate,
  type TestDatabase,
} from "@edgefleet/testkit";
import { migrate, migrationsFingerprint, readMigrations } from "./migrator";

export type { TestDatabase };

/** The fleet's schema as a template: rebuilt whenever a migration file changes. */
export async function migratedTemplate(): Promise<DatabaseTemplate> {
  return {
    fingerprint: `edgefleet-migrations-${migrationsFingerprint(await readMigrations())}`,
    async migrate(url) {
      await migrate(url);
    },
  };
}

export interface CreateTestDatabaseOptions {
  /** false: an empty database, for testing migrations themselves (default true). */
  migrated?: boolean;
}

/** A fresh database for one test file, migrated to the current schema unless asked not to. */
export async function createTestDatabase(
  options: CreateTestDatabaseOptions = {},
): Promise<TestDatabase> {
  if (options.migrated === false) return createDatabase();
  return createDatabase({ template: await migratedTemplate() });
}
