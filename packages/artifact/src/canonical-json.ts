/** A value that has no single JSON form; `path` says where it sits (`$.recipe[2].bits`). */
export class CanonicalJsonError extends Error {
  override name = "CanonicalJsonError";
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`canonical JSON: ${path} ${message}`);
  }
}

/**
 * Deterministic JSON, so that a signer and a verifier on different machines hash the same bytes
 * for the same value: object keys sorted recursively, no whitespace, arrays in order. This is
 * RFC 8785 (JCS) for the values manifests hold: keys sort by UTF-16 code units (what JS `sort`
 * does and JCS specifies), numbers and strings are written as `JSON.stringify` writes them (the
 * ECMAScript number form JCS adopts: 1e+21, 0.1, -0 as 0).
 *
 * Where `JSON.stringify` would silently change a value (NaN -> null, undefined in an array ->
 * null, a function dropped, a Date turned into a string) this throws CanonicalJsonError instead:
 * a signature must cover what the reader will see. An object property that is `undefined` is
 * left out, as JSON does, because that is how an absent optional field looks in memory.
 */
export function canonicalJson(value: unknown): string {
  return write(value, "$", new Set());
}

function write(v: unknown, path: string, open: Set<object>): string {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v))
        throw new CanonicalJsonError(path, `is ${v}: JSON has no form for it`);
      return JSON.stringify(v);
    case "object":
      if (v === null) return "null";
      break;
    default:
      throw new CanonicalJsonError(path, `is a ${typeof v}: JSON has no form for it`);
  }
  if (open.has(v)) throw new CanonicalJsonError(path, "refers back to itself (a cycle)");
  open.add(v);
  try {
    if (Array.isArray(v)) {
      const items: string[] = [];
      // An index loop, not map: map skips holes, and a hole must be refused like undefined.
      for (let i = 0; i < v.length; i++) items.push(write(v[i], `${path}[${i}]`, open));
      return `[${items.join(",")}]`;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (v as { constructor?: { name?: string } }).constructor?.name || "object";
      throw new CanonicalJsonError(path, `is a ${kind}, not a plain object`);
    }
    const record = v as Record<string, unknown>;
    const members: string[] = [];
    for (const key of Object.keys(record).sort()) {
      if (record[key] === undefined) continue;
      members.push(`${JSON.stringify(key)}:${write(record[key], childPath(path, key), open)}`);
    }
    return `{${members.join(",")}}`;
  } finally {
    open.delete(v);
  }
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
