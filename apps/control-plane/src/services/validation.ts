import type { z } from "zod";
import { InvalidArgumentError } from "../errors";

/** Validates input with a zod schema; the error names the first failing field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.length ? issue.path.join(".") : "(body)";
  throw new InvalidArgumentError(field, issue?.message ?? "is invalid");
}
