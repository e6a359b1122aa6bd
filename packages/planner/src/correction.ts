import type { LatencyBreakdown } from "./latency-model";

/**
 * A latency measured in the field next to what the uncorrected model predicted for it. The key
 * groups observations that share a systematic model error (see `correctionKey`).
 */
export interface LatencyObservation {
  deviceId: string;
  /** "" when the device belongs to no class. */
  deviceClass: string;
  variantId: string;
  key: string;
  batch: number;
  predictedMs: number;
  measuredMs: number;
}

/** A shrunk log-space effect and how many observations it rests on. */
export interface Effect {
  n: number;
  log: number;
}

/**
 * log(measured / predicted) ~ key effect + device offset + device-by-key interaction, each a
 * robust median shrunk toward its parent. Plain JSON so the control plane can store it.
 */
export interface CorrectionModel {
  /** Pseudo-count of the parent: a level with n points weighs n / (n + shrinkage). */
  shrinkage: number;
  /** Per key prefix ("int8", "int8/compute"): how wrong the model is for that kind of work. */
  keys: Record<string, Effect>;
  /** Per class and per device: how much slower than its profile the hardware really runs. */
  classes: Record<string, Effect>;
  devices: Record<string, Effect>;
  /** "<class or device>|<key>": what is left for one key on one class or device. */
  classKeys: Record<string, Effect>;
  deviceKeys: Record<string, Effect>;
}

export interface CorrectionFactor {
  /** Multiply the model's prediction by this. */
  factor: number;
  /** Observations of this very device (0 when the factor comes from its class or the fleet). */
  n: number;
  source: "none" | "fleet" | "class" | "device";
}

/**
 * Hierarchical key: kernel type, then which roofline term bound the prediction. The model's
 * errors are systematic per kernel (GEMV runs below GEMM peak, int4 unpacks) and per regime
 * (batch 1 is memory or overhead bound, large batches compute bound).
 */
export function correctionKey(b: Pick<LatencyBreakdown, "dominantKernel" | "bound">): string {
  return `${b.dominantKernel}/${b.bound}`;
}

/**
 * Fits the effects by backfitting medians (two passes: key effects, then offsets on what the
 * keys leave), which keeps one slow device from being read as a slow kernel and vice versa.
 */
export function fitCorrection(
  observations: readonly LatencyObservation[],
  options: { shrinkage?: number } = {},
): CorrectionModel {
  const K = options.shrinkage ?? 3;
  const obs = observations.filter((o) => o.measuredMs > 0 && o.predictedMs > 0);
  const r = obs.map((o) => Math.log(o.measuredMs / o.predictedMs));
  const model: CorrectionModel = {
    shrinkage: K,
    keys: {},
    classes: {},
    devices: {},
    classKeys: {},
    deviceKeys: {},
  };
  let offsets = obs.map(() => 0);
  for (let pass = 0; pass < 2; pass++) {
    model.keys = fitKeys(obs, r, offsets, K);
    const afterKeys = obs.map((o, i) => r[i] - keyEffect(model, o.key));
    model.classes = shrinkGroups(
      obs,
      afterKeys,
      (o) => o.deviceClass || undefined,
      K,
      () => 0,
    );
    model.devices = shrinkGroups(
      obs,
      afterKeys,
      (o) => o.deviceId,
      K,
      (o) => model.classes[o.deviceClass]?.log ?? 0,
    );
    offsets = obs.map((o) => model.devices[o.deviceId].log);
  }
  const left = obs.map((o, i) => r[i] - keyEffect(model, o.key));
  const afterClass = obs.map((o, i) => left[i] - (model.classes[o.deviceClass]?.log ?? 0));
  const afterDevice = obs.map((o, i) => left[i] - model.devices[o.deviceId].log);
  model.classKeys = shrinkGroups(
    obs,
    afterClass,
    (o) => (o.deviceClass ? `${o.deviceClass}|${o.key}` : undefined),
    K,
    () => 0,
  );
  model.deviceKeys = shrinkGroups(
    obs,
    afterDevice,
    (o) => `${o.deviceId}|${o.key}`,
    K,
    (o) => model.classKeys[`${o.deviceClass}|${o.key}`]?.log ?? 0,
  );
  return model;
}

export function correctionFor(
  model: CorrectionModel | undefined,
  device: { deviceId: string; deviceClass: string },
  key: string,
): CorrectionFactor {
  if (!model) return { factor: 1, n: 0, source: "none" };
  const dev = model.devices[device.deviceId];
  const cls = device.deviceClass ? model.classes[device.deviceClass] : undefined;
  let log = keyEffect(model, key);
  let source: CorrectionFactor["source"] = hasKey(model, key) ? "fleet" : "none";
  if (dev) {
    log += dev.log + (model.deviceKeys[`${device.deviceId}|${key}`]?.log ?? 0);
    source = "device";
  } else if (cls) {
    log += cls.log + (model.classKeys[`${device.deviceClass}|${key}`]?.log ?? 0);
    source = "class";
  }
  return { factor: Math.exp(log), n: dev?.n ?? 0, source };
}

/** Effect of the finest known prefix of the key, each prefix shrunk toward the coarser one. */
function keyEffect(model: CorrectionModel, key: string): number {
  let log = 0;
  for (const p of prefixesOf(key)) {
    const e = model.keys[p];
    if (e) log = e.log;
  }
  return log;
}

function hasKey(model: CorrectionModel, key: string): boolean {
  return prefixesOf(key).some((p) => model.keys[p] !== undefined);
}

function fitKeys(
  obs: readonly LatencyObservation[],
  r: readonly number[],
  offsets: readonly number[],
  K: number,
): Record<string, Effect> {
  const groups = new Map<string, number[]>();
  obs.forEach((o, i) => {
    for (const p of prefixesOf(o.key)) push(groups, p, r[i] - offsets[i]);
  });
  const out: Record<string, Effect> = {};
  // Coarse prefixes first, so each finer one can shrink toward its parent.
  const names = [...groups.keys()].sort((a, b) => a.split("/").length - b.split("/").length);
  for (const name of names) {
    const xs = groups.get(name)!;
    const parent = name.includes("/") ? (out[name.slice(0, name.lastIndexOf("/"))]?.log ?? 0) : 0;
    out[name] = { n: xs.length, log: shrink(median(xs), xs.length, parent, K) };
  }
  return out;
}

function shrinkGroups(
  obs: readonly LatencyObservation[],
  values: readonly number[],
  groupOf: (o: LatencyObservation) => string | undefined,
  K: number,
  priorOf: (o: LatencyObservation) => number,
): Record<string, Effect> {
  const groups = new Map<string, number[]>();
  const prior = new Map<string, number>();
  obs.forEach((o, i) => {
    const g = groupOf(o);
    if (g === undefined) return;
    push(groups, g, values[i]);
    if (!prior.has(g)) prior.set(g, priorOf(o));
  });
  const out: Record<string, Effect> = {};
  for (const [g, xs] of groups) {
    out[g] = { n: xs.length, log: shrink(median(xs), xs.length, prior.get(g) ?? 0, K) };
  }
  return out;
}

function shrink(estimate: number, n: number, prior: number, K: number): number {
  return (n * estimate + K * prior) / (n + K);
}

function push(m: Map<string, number[]>, k: string, x: number): void {
  const g = m.get(k);
  if (g) g.push(x);
  else m.set(k, [x]);
}

const prefixCache = new Map<string, string[]>();

/** "fp32/memory" -> ["fp32", "fp32/memory"]: coarse levels first. */
function prefixesOf(key: string): string[] {
  const hit = prefixCache.get(key);
  if (hit) return hit;
  const parts = key.split("/");
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) out.push(parts.slice(0, i).join("/"));
  if (prefixCache.size < 10_000) prefixCache.set(key, out);
  return out;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
