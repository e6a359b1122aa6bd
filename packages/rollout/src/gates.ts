// A wave's health gates: install, latency, errors, shadow agreement and the canary accuracy
// budget. Pure: the controller gathers the observation (reports, merged telemetry) and acts on
// the verdict. Every gate reading carries a sentence a person reads, with the numbers.
import type { GateName, GateReading, GateStatus } from "@edgefleet/protocol/rest";
import type { GatesConfig } from "./strategy";

export type TargetState = "pending" | "assigned" | "applied" | "failed" | "rolled-back" | "skipped";

export interface TargetObservation {
  deviceId: string;
  deviceClass: string | null;
  state: TargetState;
  /** Canary result of the new variant on this device, once reported. */
  canary?: { samples: number; correct: number };
  /** What compression measured for the variant (the signed manifest's quality.value, 0..1). */
  promisedAccuracy: number;
  /** Telemetry of the new variant on this device since the wave started. */
  requests: number;
  errors: number;
  /** This device's own latency quantile (the gate's quantile), null without data. */
  quantileMs: number | null;
  shadowCompared: number;
  shadowAgreed: number;
}

/** Telemetry of one device class in the wave, merged over its devices (sketches merged). */
export interface ClassObservation {
  deviceClass: string | null;
  requests: number;
  errors: number;
  quantileMs: number | null;
}

export interface WaveObservation {
  /** 0-based. */
  wave: number;
  targets: readonly TargetObservation[];
  classes: readonly ClassObservation[];
  /** Since the last of the wave's devices was assigned; null while some are still to assign. */
  bakeElapsedMs: number | null;
  bakeMs: number;
  sloMs: number;
  /** "fidelity" catalogues have no labelled accuracy to hold a canary to. */
  metric: "accuracy" | "fidelity";
  /** The rollout ships a labelled canary set that every device evaluates before swapping. */
  canarySet: boolean;
}

export type { GateName, GateReading, GateStatus };

export type WaveVerdict =
  | { verdict: "wait"; gates: GateReading[] }
  | { verdict: "advance"; gates: GateReading[] }
  | { verdict: "halt"; gates: GateReading[]; reason: string };

const pct = (x: number) => `${(x * 100).toFixed(1).replace(/\.0$/, "")}%`;
const ms = (x: number) => (x < 1 ? `${Number(x.toPrecision(3))} ms` : `${Math.round(x)} ms`);
const className = (c: string | null) => c ?? "real devices";

export function evaluateWave(o: WaveObservation, config: GatesConfig): WaveVerdict {
  const gates = [
    installGate(o, config),
    latencyGate(o, config),
    errorsGate(o, config),
    agreementGate(o, config),
    canaryGate(o, config),
  ];
  const failed = gates.find((g) => g.status === "fail");
  if (failed) {
    return { verdict: "halt", gates, reason: `wave ${o.wave + 1} halted: ${failed.detail}` };
  }
  const settled = o.targets.every((t) => t.state !== "pending" && t.state !== "assigned");
  const baked = isBaked(o);
  const waiting = gates.some((g) => g.status === "waiting");
  if (settled && baked && !waiting) return { verdict: "advance", gates };
  return { verdict: "wait", gates };
}

function installGate(o: WaveObservation, c: GatesConfig): GateReading {
  const failed = o.targets.filter((t) => t.state === "failed").length;
  const applied = o.targets.filter((t) => t.state === "applied").length;
  const reported = failed + applied;
  const threshold = c.install.maxFailureRate;
  const rate = reported > 0 ? failed / reported : 0;
  const base = { gate: "install" as const, value: rate, threshold };
  if (reported >= c.install.minDevices && rate > threshold) {
    return {
      ...base,
      status: "fail",
      detail: `${failed} of ${reported} devices failed to install (${pct(rate)} > ${pct(threshold)})`,
    };
  }
  const open = o.targets.length - reported - o.targets.filter((t) => t.state === "skipped").length;
  if (open > 0) {
    return {
      ...base,
      status: "waiting",
      detail: `${reported} of ${o.targets.length} devices reported`,
    };
  }
  return { ...base, status: "pass", detail: `${applied} applied, ${failed} failed (${pct(rate)})` };
}

function latencyGate(o: WaveObservation, c: GatesConfig): GateReading {
  const q = `p${Math.round(c.latency.quantile * 100)}`;
  const limit = o.sloMs * (1 + c.latency.margin);
  if (!c.latency.enabled) {
    return { gate: "latency", status: "off", value: null, threshold: limit, detail: "off" };
  }
  let worst: ClassObservation | undefined;
  for (const cls of o.classes) {
    if (cls.requests < c.latency.minRequests || cls.quantileMs === null) continue;
    if (!worst || cls.quantileMs > (worst.quantileMs ?? 0)) worst = cls;
  }
  if (!worst) {
    const seen = o.classes.reduce((a, cls) => a + cls.requests, 0);
    // A fleet that serves nothing in its bake time has no latency to hold against the SLO.
    const verdict = unjudged(o, `${seen} requests (a class needs ${c.latency.minRequests})`);
    return { gate: "latency", ...verdict, value: null, threshold: limit };
  }
  const value = worst.quantileMs!;
  if (value > limit) {
    const over = o.targets.filter(
      (t) => t.deviceClass === worst.deviceClass && t.quantileMs !== null && t.quantileMs > limit,
    ).length;
    const of = o.targets.filter(
      (t) => t.deviceClass === worst.deviceClass && t.state !== "skipped",
    ).length;
    return {
      gate: "latency",
      status: "fail",
      value,
      threshold: limit,
      detail: `${q} ${ms(value)} > SLO ${ms(limit)} on ${className(worst.deviceClass)}, ${over} of ${of} devices`,
    };
  }
  return {
    gate: "latency",
    status: "pass",
    value,
    threshold: limit,
    detail: `worst ${q} ${ms(value)} (${className(worst.deviceClass)}) <= SLO ${ms(limit)}`,
  };
}

const isBaked = (o: WaveObservation) => o.bakeElapsedMs !== null && o.bakeElapsedMs >= o.bakeMs;

/** A gate without enough evidence waits for the bake; after it, it passes and says so. */
function unjudged(o: WaveObservation, what: string): { status: GateStatus; detail: string } {
  return isBaked(o)
    ? { status: "pass", detail: `not judged: ${what} by the end of the bake, passed on bake time` }
    : { status: "waiting", detail: `not judged yet: ${what}` };
}

function errorsGate(o: WaveObservation, c: GatesConfig): GateReading {
  const requests = o.classes.reduce((a, cls) => a + cls.requests, 0);
  const errors = o.classes.reduce((a, cls) => a + cls.errors, 0);
  const threshold = c.errors.maxErrorRate;
  const rate = requests > 0 ? errors / requests : 0;
  const base = { gate: "errors" as const, value: rate, threshold };
  if (requests < c.errors.minRequests) {
    return { ...base, ...unjudged(o, `${requests} requests (needs ${c.errors.minRequests})`) };
  }
  if (rate > threshold) {
    return {
      ...base,
      status: "fail",
      detail: `error rate ${pct(rate)} > ${pct(threshold)} (${errors} of ${requests} requests)`,
    };
  }
  return { ...base, status: "pass", detail: `error rate ${pct(rate)} of ${requests} requests` };
}

function agreementGate(o: WaveObservation, c: GatesConfig): GateReading {
  const threshold = c.agreement.minAgreement;
  if (!c.agreement.enabled) {
    return { gate: "agreement", status: "off", value: null, threshold, detail: "off" };
  }
  const compared = o.targets.reduce((a, t) => a + t.shadowCompared, 0);
  const agreed = o.targets.reduce((a, t) => a + t.shadowAgreed, 0);
  if (compared < c.agreement.minCompared) {
    return {
      gate: "agreement",
      value: compared > 0 ? agreed / compared : null,
      threshold,
      ...unjudged(o, `${compared} shadow comparisons (needs ${c.agreement.minCompared})`),
    };
  }
  const share = agreed / compared;
  const devices = o.targets.filter((t) => t.shadowCompared > 0).length;
  const detail = `agreement with the previous variant ${pct(share)} ${share < threshold ? "<" : ">="} ${pct(threshold)} (${compared} comparisons on ${devices} devices)`;
  return {
    gate: "agreement",
    status: share < threshold ? "fail" : "pass",
    value: share,
    threshold,
    detail,
  };
}

function canaryGate(o: WaveObservation, c: GatesConfig): GateReading {
  const off = (detail: string): GateReading => ({
    gate: "canary",
    status: "off",
    value: null,
    threshold: null,
    detail,
  });
  if (!o.canarySet) return off("no canary set");
  if (o.metric !== "accuracy") {
    return off("a fidelity catalogue promises no accuracy to hold the canary to");
  }
  const budget = c.canary.maxDropPoints;
  const baked = isBaked(o);
  const withCanary = o.targets.filter((t) => t.canary && t.canary.samples > 0);
  // Devices report their canary result with `applied` (it is measured before the swap): one
  // applied without it could not evaluate the set.
  const missing = o.targets.filter((t) => t.state === "applied" && !t.canary).length;
  if (withCanary.length === 0) {
    const applied = o.targets.filter((t) => t.state === "applied").length;
    if (applied > 0 && baked) {
      // The accuracy the manifest promised is unchecked: that is not a pass.
      return {
        gate: "canary",
        status: "fail",
        value: null,
        threshold: null,
        detail: `no canary results from ${applied} applied devices after the bake time`,
      };
    }
    return {
      gate: "canary",
      status: "waiting",
      value: null,
      threshold: null,
      detail: `waiting for canary results (${applied} devices applied)`,
    };
  }
  const samples = withCanary.reduce((a, t) => a + t.canary!.samples, 0);
  const correct = withCanary.reduce((a, t) => a + t.canary!.correct, 0);
  const promised =
    withCanary.reduce((a, t) => a + t.promisedAccuracy * t.canary!.samples, 0) / samples;
  const field = correct / samples;
  const drop = (promised - field) * 100;
  const threshold = promised - budget / 100;
  const detail = `canary accuracy ${pct(field)} vs ${pct(promised)} promised by compression (drop ${drop.toFixed(1)} pt ${drop > budget ? ">" : "<="} ${budget} pt budget; ${samples} samples on ${withCanary.length} devices${missing > 0 ? `, ${missing} without a result` : ""})`;
  if (drop > budget) return { gate: "canary", status: "fail", value: field, threshold, detail };
  if (missing > 0 && !baked) {
    return { gate: "canary", status: "waiting", value: field, threshold, detail };
  }
  return { gate: "canary", status: "pass", value: field, threshold, detail };
}
