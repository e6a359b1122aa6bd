// What the CLI tells a person when something is wrong: one line, no stack.

/** Bad input the person can fix (a flag, a file, a missing token). */
export class CliInputError extends Error {
  override name = "CliInputError";
}

/** The control plane refused a request: its status, code and the field it named. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly code: string | undefined,
    readonly field: string | undefined,
    detail: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${withField(field, detail)}`);
  }
}

/** The control plane's messages usually start with the field already; name it when not. */
export function withField(field: string | undefined, message: string): string {
  if (!field || message.startsWith(`${field}:`)) return message;
  return `${field}: ${message}`;
}

/** The one line `edgefleet: error: ...` prints for any error (the first line of its message). */
export function errorLine(err: unknown): string {
  const e = err as Error | undefined;
  const msg = e?.message ? e.message : String(err);
  return `edgefleet: error: ${msg.split("\n")[0]}`;
}
