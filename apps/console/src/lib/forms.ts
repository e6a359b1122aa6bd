// What the plan and rollout forms send: typed text turned into request bodies, with errors
// that name the field. Pure; the server validates again.
import type { DeviceSelector, DeviceStatus, PlanPolicy } from "@edgefleet/protocol/rest";
import { type Parsed, parseLabels, STATUSES } from "./fleet-filter";

export interface FieldError {
  field: string;
  message: string;
}
type Result<T> = { ok: true; value: T } | { ok: false; error: FieldError };

const fail = (field: string, message: string) => ({
  ok: false as const,
  error: { field, message },
});

function num(
  text: string,
  field: string,
  opts: { min: number; max: number; int?: boolean },
): Result<number> {
  const t = text.trim();
  const n = Number(t);
  if (t === "" || !Number.isFinite(n)) return fail(field, "must be a number");
  if (opts.int && !Number.isInteger(n)) return fail(field, "must be a whole number");
  if (n < opts.min || n > opts.max)
    return fail(field, `must be between ${opts.min} and ${opts.max}`);
  return { ok: true, value: n };
}

export interface PolicyInput {
  slo: string;
  batch: string;
  /** Percent, 0..100 (what people type); sent as a share. */
  accuracyFloor: string;
  objective: PlanPolicy["objective"];
}

export function parsePolicy(input: PolicyInput): Result<PlanPolicy> {
  const slo = num(input.slo, "latencySloMs", { min: 0.001, max: 600_000 });
  if (!slo.ok) return slo;
  const batch = num(input.batch || "1", "batch", { min: 1, max: 1024, int: true });
  if (!batch.ok) return batch;
  const floor = num(input.accuracyFloor || "0", "accuracyFloor", { min: 0, max: 100 });
  if (!floor.ok) return floor;
  return {
    ok: true,
    value: {
      latencySloMs: slo.value,
      batch: batch.value,
      accuracyFloor: floor.value / 100,
      objective: input.objective,
    },
  };
}

export interface SelectorInput {
  deviceClass: string;
  labels: string;
  status: string;
}

export function parseSelector(input: SelectorInput): Result<DeviceSelector> {
  const labels: Parsed<Record<string, string>> = parseLabels(input.labels);
  if (!labels.ok) return fail("selector.labels", labels.error);
  const selector: DeviceSelector = {};
  if (input.deviceClass.trim()) selector.deviceClass = input.deviceClass.trim();
  if (Object.keys(labels.value).length) selector.labels = labels.value;
  if (input.status) {
    if (!STATUSES.includes(input.status as DeviceStatus)) {
      return fail("selector.status", `must be one of ${STATUSES.join(", ")}`);
    }
    selector.status = input.status as DeviceStatus;
  }
  return { ok: true, value: selector };
}

/** "1, 10%, 100%" -> [1, "10%", "100%"]: counts and cumulative shares, as the API takes them. */
export function parseWaves(text: string): Result<(number | string)[]> {
  const parts = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) return fail("strategy.waves", "give at least one wave, e.g. 10%, 100%");
  if (parts.length > 20) return fail("strategy.waves", "at most 20 waves");
  const waves: (number | string)[] = [];
  for (const p of parts) {
    const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(p);
    if (pct) {
      const v = Number(pct[1]);
      if (v <= 0 || v > 100)
        return fail("strategy.waves", `"${p}" must be a share over 0 % and at most 100 %`);
      waves.push(`${v}%`);
    } else if (/^\d+$/.test(p) && Number(p) > 0) {
      waves.push(Number(p));
    } else {
      return fail("strategy.waves", `"${p}" is neither a device count (5) nor a share (10%)`);
    }
  }
  return { ok: true, value: waves };
}
