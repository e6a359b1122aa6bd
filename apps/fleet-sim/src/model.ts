// The simulation model: how fast a virtual device serves a variant and how good the variant is.
// Latency = the variant's base latency (on the reference host) x the class's slowdown for the
// variant's kernel type x the device's co-tenant load x a log-normal spread. Pure: no IO here.
import type { KernelType } from "@edgefleet/protocol";
import { DEVICE_CLASS_NAMES, type DeviceClassName, deviceClass } from "@edgefleet/runtime/facts";
import { z } from "zod";

const KERNELS = ["fp32", "fp16", "int8", "int4"] as const;

const factorSchema = z.number().positive();
const classModelSchema = z.object({
  /** One factor for every kernel type, or per kernel type (null: the class lacks the kernel). */
  latencyFactor: z
    .union([
      factorSchema,
      z.object(Object.fromEntries(KERNELS.map((k) => [k, factorSchema.nullable().optional()]))),
    ])
    .optional(),
});

export const variantModelSchema = z.object({
  /** Glob on the variant's name, case-insensitive (`*` matches anything): `int4*`, `*prune*`. */
  match: z.string().min(1),
  /** Median latency of one request on the reference host (class factor 1, load 1). */
  baseLatencyMs: z.number().positive(),
  /** Top-1 accuracy on a canary set: the share of samples a device reports correct. */
  canaryAccuracy: z.number().min(0).max(1),
  /** How often its top-1 agrees with the previous variant's in shadow mode. */
  agreement: z.number().min(0).max(1),
  /** Share of requests that fail (model errors). */
  errorRate: z.number().min(0).max(1).default(0),
  /** Chance that applying it fails (reported `failed`, the device keeps what it served). */
  applyFailureRate: z.number().min(0).max(1).default(0),
});
export type VariantModel = z.infer<typeof variantModelSchema>;

export const simulationModelSchema = z
  .object({
    classes: z.record(z.string(), classModelSchema).default({}),
    /** Tried in order before the defaults; the first match wins. */
    variants: z.array(variantModelSchema).default([]),
    /** Sigma of the log-normal spread of single latencies around the median. */
    latencySpread: z.number().min(0).max(3).default(0.2),
    /** Simulated local requests per device per second (a Poisson process). */
    requestsPerSecond: z.number().min(0).max(10_000).default(2),
    /** Simulated time from "applying" to "applied" (download, verify, load, warm-up). */
    applyMs: z.number().min(0).max(3_600_000).default(1_500),
    /** Share of a request's latency spent in the model run (the rest is queueing and IO). */
    runShare: z.number().gt(0).max(1).default(0.85),
  })
  .strict();
export type SimulationModelConfig = z.input<typeof simulationModelSchema>;

/**
 * Illustrative figures for a small MLP on a fast x86 host, not measurements of any device;
 * give your own with `variants`. Quantized and pruned variants are faster on the host, and the
 * class factors (from @edgefleet/runtime's device classes) make int8 slower than fp32 on an rpi4.
 */
export const DEFAULT_VARIANTS: readonly VariantModel[] = [
  v("*int4*", 0.1, 0.96, 0.965),
  v("*int8*", 0.12, 0.975, 0.985),
  v("*fp16*", 0.25, 0.98, 0.995),
  v("*prune*", 0.15, 0.97, 0.98),
  v("*student*", 0.05, 0.95, 0.95),
  v("*distil*", 0.05, 0.95, 0.95),
  v("*", 0.25, 0.98, 0.99),
];

function v(match: string, baseLatencyMs: number, canaryAccuracy: number, agreement: number) {
  return { match, baseLatencyMs, canaryAccuracy, agreement, errorRate: 0, applyFailureRate: 0 };
}

export class InvalidSimulationModelError extends Error {
  override name = "InvalidSimulationModelError";
}

type Factors = Record<KernelType, number | null>;

/** The resolved model the devices draw from. */
export class SimulationModel {
  readonly latencySpread: number;
  readonly requestsPerSecond: number;
  readonly applyMs: number;
  readonly runShare: number;
  private readonly factors = new Map<string, Factors>();
  private readonly variants: { re: RegExp; model: VariantModel }[];
  private readonly byName = new Map<string, VariantModel>();

  constructor(config: SimulationModelConfig = {}) {
    const parsed = simulationModelSchema.safeParse(config);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidSimulationModelError(
        `simulation model: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
      );
    }
    const c = parsed.data;
    this.latencySpread = c.latencySpread;
    this.requestsPerSecond = c.requestsPerSecond;
    this.applyMs = c.applyMs;
    this.runShare = c.runShare;
    for (const name of Object.keys(c.classes)) {
      if (!DEVICE_CLASS_NAMES.includes(name as DeviceClassName)) {
        throw new InvalidSimulationModelError(
          `simulation model: classes.${name}: unknown class (known: ${DEVICE_CLASS_NAMES.join(", ")})`,
        );
      }
    }
    for (const name of DEVICE_CLASS_NAMES) {
      const base: Factors = { ...deviceClass(name).computeSlowdown };
      const given = c.classes[name]?.latencyFactor;
      if (typeof given === "number") for (const k of KERNELS) base[k] = given;
      else if (given) Object.assign(base, given);
      this.factors.set(name, base);
    }
    this.variants = [...c.variants, ...DEFAULT_VARIANTS].map((model) => ({
      re: globToRegExp(model.match),
      model,
    }));
  }

  /** The class's latency factor for a kernel type; null when the class cannot run it. */
  latencyFactor(className: string, kernel: KernelType): number | null {
    const f = this.factors.get(className);
    if (!f) throw new InvalidSimulationModelError(`unknown device class ${className}`);
    return f[kernel];
  }

  /** The first variant model whose pattern matches the name (the catch-all `*` last). */
  variant(name: string): VariantModel {
    let m = this.byName.get(name);
    if (!m) {
      m = this.variants.find((x) => x.re.test(name))!.model;
      this.byName.set(name, m);
    }
    return m;
  }

  /** Median latency of a device of `className` serving `variantName` under co-tenant `load`. */
  medianLatencyMs(className: string, variantName: string, kernel: KernelType, load: number) {
    const factor = this.latencyFactor(className, kernel) ?? 1;
    return this.variant(variantName).baseLatencyMs * factor * load;
  }
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`, "i");
}
