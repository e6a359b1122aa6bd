// Prisma's schema engine, run from the WebAssembly build that npm ships, so migrations can be
// generated and checked offline (the 7.x CLI wants a native binary it downloads at run time).
// Dev tooling only: nothing at run time depends on it.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import type { DiffTarget, SchemaEngine } from "@prisma/schema-engine-wasm";
import pg from "pg";

export const defaultSchemaPath = fileURLToPath(
  new URL("../../../prisma/schema.prisma", import.meta.url),
);

/** "database": the live database `databaseUrl` names; "schema": the Prisma schema file. */
export type SchemaSource = "empty" | "schema" | "database";

export interface DiffOptions {
  /** The engine always connects here, even for a diff between files. */
  databaseUrl: string;
  schemaPath?: string;
}

export interface SchemaDiff {
  /** SQL that turns `from` into `to`; Prisma writes a comment only when there is nothing to do. */
  script: string;
  /** False when `from` already matches `to`. */
  changed: boolean;
}

/** The SQL that brings `from` to `to`, as `prisma migrate diff --script` prints it. */
export async function diffSchemas(
  from: SchemaSource,
  to: SchemaSource,
  options: DiffOptions,
): Promise<SchemaDiff> {
  const path = options.schemaPath ?? defaultSchemaPath;
  const files = [{ path, content: await readFile(path, "utf8") }];
  const target = (s: SchemaSource): DiffTarget => {
    if (s === "empty") return { tag: "empty" };
    if (s === "schema") return { tag: "schemaDatamodel", files };
    // Prisma 7 reaches a live database only through the adapter, which holds the URL.
    return { tag: "schemaDatasource", files, configDir: dirname(path) };
  };
  const engine = await newEngine(
    options.databaseUrl,
    files.map((f) => [f.path, f.content]),
  );
  try {
    const res = await engine.diff({
      from: target(from),
      to: target(to),
      script: true,
      exitCode: true,
      filters: { externalTables: [], externalEnums: [] },
    });
    return { script: res.stdout ?? "", changed: res.exitCode === 2 };
  } finally {
    engine.free();
  }
}

type EngineModule = typeof import("@prisma/schema-engine-wasm");

// The WebAssembly global, typed minimally: the project's lib settings (ES2023, no DOM) omit it.
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(
    module: object,
    imports: Record<string, unknown>,
  ): Promise<{ exports: Record<string, unknown> }>;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
let enginePromise: Promise<EngineModule> | undefined;

async function newEngine(url: string, datamodels: [string, string][]): Promise<SchemaEngine> {
  enginePromise ??= loadEngineModule();
  const { SchemaEngine } = await enginePromise;
  const adapter = bindMigrationAwareSqlAdapterFactory(
    new PrismaPg(new CatalogPool({ connectionString: url })),
  );
  return SchemaEngine.new({ datamodels }, () => {}, adapter);
}

/**
 * The engine introspects pg_catalog, whose columns use Postgres' internal `"char"` type (OID 18),
 * which @prisma/adapter-pg refuses (prisma/orm#27403). Its values arrive as text anyway, so the
 * pool reports them as text.
 */
class CatalogPool extends pg.Pool {
  // biome-ignore lint/suspicious/noExplicitAny: pg's query overloads cannot be forwarded typed.
  override query(...args: any[]): any {
    // biome-ignore lint/suspicious/noExplicitAny: see above.
    const res = (super.query as (...a: any[]) => unknown)(...args);
    return res instanceof Promise ? res.then(charAsText) : res;
  }
}

function charAsText<T extends { fields?: { dataTypeID: number }[] }>(result: T): T {
  for (const f of result.fields ?? []) if (f.dataTypeID === 18) f.dataTypeID = 25;
  return result;
}

/**
 * The package imports its .wasm as an ES module, which Node 20 only does behind a flag;
 * instantiate it by hand with the package's own JS glue instead.
 */
async function loadEngineModule(): Promise<EngineModule> {
  const entry = createRequire(import.meta.url).resolve("@prisma/schema-engine-wasm");
  const dir = dirname(entry);
  const glue = await import(pathToFileURL(join(dir, "schema_engine_bg.js")).href);
  const wasm = await Wasm.compile(await readFile(join(dir, "schema_engine_bg.wasm")));
  const instance = await Wasm.instantiate(wasm, { "./schema_engine_bg.js": glue });
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return glue as EngineModule;
}
