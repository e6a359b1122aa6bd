// What an operator asks of a rollout: its waves, bake time, rate and gates. Validated here (zod,
// shared by REST and gRPC), with the defaults a user of this field expects.
import { z } from "zod";

/**
 * A wave's cumulative size: a share of the fleet ("10%") or a device count (25); the parsed form
 * ({percent} / {count}, what is stored) parses again to itself.
 */
const waveSize = z.union([
  z.object({ percent: z.number().gt(0).max(100) }),
  z.object({ count: z.number().int().positive() }),
  z
    .string()
    .regex(/^(100|[1-9]?[0-9](\.[0-9]+)?)%$/, 'must be a percentage such as "10%"')
    .transform((s) => ({ percent: Number(s.slice(0, -1)) })),
  z
    .number()
    .int()
    .positive()
    .transform((n) => ({ count: n })),
]);
export type WaveSize = { percent: number } | { count: number };

export const gatesSchema = z.object({
  /** Greengrass abort-criteria semantics: failed installs over reports, after a minimum. */
  install: z
    .object({
      maxFailureRate: z.number().min(0).max(1).default(0.2),
      minDevices: z.number().int().min(1).default(1),
    })
    .default({ maxFailureRate: 0.2, minDevices: 1 }),
  /** p95 of end-to-end latency (merged sketches) per device class vs the policy's SLO. */
  latency: z
    .object({
      enabled: z.boolean().default(true),
      quantile: z.number().gt(0).lt(1).default(0.95),
      /** A class's devices must have answered this many requests before the gate judges. */
      minRequests: z.number().int().min(1).default(50),
      /** Headroom: fail only when the quantile exceeds SLO x (1 + margin). */
      margin: z.number().min(0).max(10).default(0),
    })
    .default({ enabled: true, quantile: 0.95, minRequests: 50, margin: 0 }),
  errors: z
    .object({
      maxErrorRate: z.number().min(0).max(1).default(0.01),
      minRequests: z.number().int().min(1).default(50),
    })
    .default({ maxErrorRate: 0.01, minRequests: 50 }),
  /** Shadow mode: top-1 agreement with the variant each device ran before. */
  agreement: z
    .object({
      enabled: z.boolean().default(false),
      sampleRate: z.number().gt(0).max(1).default(0.2),
      minAgreement: z.number().min(0).max(1).default(0.9),
      minCompared: z.number().int().min(1).default(30),
    })
    .default({ enabled: false, sampleRate: 0.2, minAgreement: 0.9, minCompared: 30 }),
  /**
   * The accuracy-budget contract: canary accuracy on the devices must be within this many
   * points of what compression measured (the signed manifest's `quality.value`).
   */
  canary: z
    .object({ maxDropPoints: z.number().min(0).max(100).default(2) })
    .default({ maxDropPoints: 2 }),
});
export type GatesConfig = z.output<typeof gatesSchema>;

export const strategySchema = z.object({
  waves: z
    .array(waveSize)
    .min(1)
    .max(20)
    .default([{ percent: 1 }, { percent: 10 }, { percent: 50 }, { percent: 100 }]),
  /** How long a wave runs on its new variant before its gates may pass it. */
  bakeSeconds: z
    .number()
    .min(0)
    .max(7 * 86_400)
    .default(60),
  /** Assignments written per second at most (Greengrass allows 1,000 a minute). */
  maxPerSecond: z.number().gt(0).max(100_000).default(1_000),
  gates: gatesSchema.default(gatesSchema.parse({})),
});
export type RolloutStrategy = z.output<typeof strategySchema>;
export type RolloutStrategyInput = z.input<typeof strategySchema>;
