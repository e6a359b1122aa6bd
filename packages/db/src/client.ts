import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "./generated/prisma/client";

/** The Prisma client, or the transaction-scoped client inside `$transaction`. */
export type Db = PrismaClient | Prisma.TransactionClient;

export interface CreatePrismaOptions {
  /** Pool size (pg default is 10). */
  max?: number;
}

/** Prisma over node-postgres: no Rust engine, so it runs offline and in any container. */
export function createPrisma(url: string, options: CreatePrismaOptions = {}): PrismaClient {
  const adapter = new PrismaPg({ connectionString: url, max: options.max });
  return new PrismaClient({ adapter });
}

/** True for Prisma's "record not found" (P2025), raised by update/delete of a missing row. */
export function isNotFound(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2025";
}

/** True for a unique-constraint violation (P2002) — optionally on a given column. */
export function isUniqueViolation(err: unknown, column?: string): boolean {
  if (!(err instanceof Prisma.PrismaClientKnownRequestError) || err.code !== "P2002") return false;
  return column === undefined || JSON.stringify(err.meta ?? {}).includes(column);
}

/**
 * True when the values themselves were refused: by Postgres (SQLSTATE class 22, "data exception":
 * a number out of a column's range, NUL in text, an impossible date) or by Prisma before sending.
 * Retrying the same values fails the same way, unlike a lost connection.
 */
export function isInvalidData(err: unknown): boolean {
  if (err instanceof Prisma.PrismaClientValidationError) return true;
  if (!(err instanceof Prisma.PrismaClientKnownRequestError)) return false;
  const meta = err.meta as
    | { driverAdapterError?: { cause?: { originalCode?: string; code?: string } } }
    | undefined;
  const cause = meta?.driverAdapterError?.cause;
  return (cause?.originalCode ?? cause?.code ?? "").startsWith("22");
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuid columns: a malformed id can match nothing, and Postgres would reject it. */
export function isUuid(id: string): boolean {
  return UUID_RE.test(id);
}
