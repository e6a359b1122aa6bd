// Bounds of what the control plane can store. A device message is parsed with these at the edge:
// a value Postgres would refuse must be refused there, naming the field, not fail the fold of
// the batch it arrived in (and every retry of it).
import { z } from "zod";

/** The largest Postgres `integer`: counters, sequence numbers and generations are stored in them. */
export const INT4_MAX = 2_147_483_647;
/** 9999-12-31T23:59:59.999Z. Later instants are no device's clock, and Postgres reads some back as invalid. */
export const MAX_EPOCH_MS = 253_402_300_799_999;

/** A count or sequence number that fits an `integer` column. */
export const int4Schema = z.number().int().nonnegative().max(INT4_MAX);
/** Milliseconds since 1970 that are a date Postgres stores and gives back. */
export const epochMsSchema = z.number().int().positive().max(MAX_EPOCH_MS);
/** Bytes (memory sizes): whole and exact in a JS number. */
export const byteCountSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Text Postgres can store (it refuses NUL in text and jsonb), at most `max` characters. */
export function textSchema(max: number) {
  return z
    .string()
    .max(max)
    .refine((s) => !s.includes("\u0000"), "must not contain NUL characters");
}
