import { z } from "zod";

export const probeRequestSchema = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("profile"),
    threads: z.number().int().positive(),
    simulatedClass: z.string(),
    microbench: z
      .object({
        rounds: z.number().int().positive().optional(),
        runsPerRound: z.number().int().positive().optional(),
        dramBytes: z.number().int().positive().optional(),
      })
      .optional(),
  }),
  z.object({
    op: z.literal("measure-latency"),
    threads: z.number().int().positive(),
    simulatedClass: z.string(),
    modelPath: z.string(),
    batch: z.number().int().positive(),
    kernel: z.enum(["fp32", "fp16", "int8", "int4"]).optional(),
  }),
]);
export type ProbeRequest = z.infer<typeof probeRequestSchema>;

export type ProbeReply = { ok: true; result: unknown } | { ok: false; error: string };
