// JSON messages carried over NATS and the WebSocket stream. Every consumer parses with these
// schemas, so a malformed message is refused at the edge with a message naming the field.
import { z } from "zod";

export const hardwareFactsSchema = z.object({
  arch: z.string().min(1).max(32),
  cores: z.number().int().positive().max(4096),
  ramTotalBytes: z.number().int().nonnegative(),
  ramFreeBytes: z.number().int().nonnegative(),
  cpuModel: z.string().max(200),
  cpuFlags: z.array(z.string().max(32)).max(64),
  accelerators: z.array(z.string().max(64)).max(16),
  os: z.string().max(64),
  simulated: z.boolean(),
  deviceClass: z.string().max(64),
});
export type HardwareFactsJson = z.infer<typeof hardwareFactsSchema>;

/** Core-NATS liveness beat: `ef.v1.dev.<id>.heartbeat`. */
export const heartbeatSchema = z.object({
  seq: z.number().int().nonnegative(),
  sentAt: z.number().int().positive(),
  agentVersion: z.string().max(64),
  uptimeS: z.number().nonnegative(),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

/** State reports and lifecycle events: `ef.v1.dev.<id>.events` (stream EVENTS). */
export const deviceEventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("facts"),
    sentAt: z.number().int().positive(),
    agentVersion: z.string().max(64),
    facts: hardwareFactsSchema,
  }),
  z.object({
    type: z.literal("started"),
    sentAt: z.number().int().positive(),
    agentVersion: z.string().max(64),
  }),
  z.object({
    type: z.literal("stopping"),
    sentAt: z.number().int().positive(),
    reason: z.string().max(200),
  }),
]);
export type DeviceEvent = z.infer<typeof deviceEventSchema>;

/** What the control plane pushes to WebSocket clients. */
export const fleetEventSchema = z.object({
  type: z.enum(["device.enrolled", "device.online", "device.offline", "device.updated"]),
  deviceId: z.string(),
  at: z.string(),
  device: z.record(z.string(), z.unknown()).optional(),
});
export type FleetEvent = z.infer<typeof fleetEventSchema>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class MessageDecodeError extends Error {
  override name = "MessageDecodeError";
}

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses bytes as JSON and validates them; the error names the first failing field. */
export function decodeJson<T>(schema: z.ZodType<T>, bytes: Uint8Array): T {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new MessageDecodeError("message is not valid JSON", { cause });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new MessageDecodeError(describeZodError(parsed.error));
  return parsed.data;
}

/** "facts.cores: Too small: expected number to be >0" — one line, the field first. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}
