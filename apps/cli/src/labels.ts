// Label arguments as people type them (`site=lab`, `--remove rack`, `--labels a=1,b=2`), turned
// into what the API takes. Pure; errors name the argument.
import type { DeviceLabelsPatch } from "@edgefleet/protocol/rest";
import { CliInputError } from "./errors";

const KEY = /^[^=\s]{1,64}$/;

/** `key=value` (the value may contain `=`; it may be empty). */
export function parsePair(arg: string, where: string): [string, string] {
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new CliInputError(`${where}: "${arg}" is not key=value`);
  const key = arg.slice(0, eq);
  if (!KEY.test(key)) {
    throw new CliInputError(
      `${where}: label key "${key}" must be 1..64 characters without '=' or whitespace`,
    );
  }
  return [key, arg.slice(eq + 1)];
}

/** `edgefleet devices label <id> k=v ... --remove k ...` → the PATCH body. */
export function labelPatch(pairs: readonly string[], remove: readonly string[]): DeviceLabelsPatch {
  const set: Record<string, string> = {};
  for (const arg of pairs) {
    const [k, v] = parsePair(arg, "labels");
    if (k in set && set[k] !== v) {
      throw new CliInputError(`labels: ${k} is given twice (${set[k]}, ${v})`);
    }
    set[k] = v;
  }
  for (const k of remove) {
    if (!KEY.test(k)) throw new CliInputError(`--remove: "${k}" is not a label key`);
    if (k in set) throw new CliInputError(`--remove: ${k} is also set (${k}=${set[k]})`);
  }
  if (Object.keys(set).length === 0 && remove.length === 0) {
    throw new CliInputError("labels: give key=value pairs to set, or --remove <key>");
  }
  return { set, remove: [...new Set(remove)] };
}

/** `--labels a=1,b=2` (plan, rollout): every pair must match. */
export function parseLabelList(v: string, where = "--labels"): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of v.split(",").filter(Boolean)) {
    const [k, value] = parsePair(pair, where);
    out[k] = value;
  }
  return out;
}

/** Labels as one cell: `site=lab, tier=canary` (sorted, so tables compare by eye). */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(", ") : "-";
}

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90`, `90s`, `30m`, `12h`, `7d` → seconds. */
export function parseDuration(v: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(v.trim());
  if (!m) throw new CliInputError(`${where}: "${v}" is not a duration (e.g. 3600, 30m, 12h, 7d)`);
  return Math.round(Number(m[1]) * UNIT[m[2] || "s"]);
}
