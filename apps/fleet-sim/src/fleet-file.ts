// The simulated fleet on disk: every device's id, class, nkey seed and JWT, so a later run
// connects the same devices instead of registering new ones. It holds secrets: 0600, atomic.
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "@edgefleet/bus";
import { DEVICE_CLASS_NAMES, type DeviceClassName } from "@edgefleet/runtime/facts";
import { z } from "zod";

const simDeviceSchema = z.object({
  id: z.string().uuid(),
  name: z.string().min(1).max(64),
  deviceClass: z.enum(DEVICE_CLASS_NAMES as [DeviceClassName, ...DeviceClassName[]]),
  /** `SU...`: the device's own nkey seed. */
  seed: z.string().startsWith("SU"),
  publicKey: z.string().startsWith("U"),
  jwt: z.string().min(1),
  registeredBy: z.enum(["enroll", "bulk"]),
  /** A profile event was published once; later runs do not re-profile (like the agent's stamp). */
  profiled: z.boolean().default(false),
});
export type SimDevice = z.infer<typeof simDeviceSchema>;

const fleetFileSchema = z.object({
  version: z.literal(1),
  /** Runs started on this file; each run's telemetry epoch, so its (epoch, seq) are new. */
  runs: z.number().int().nonnegative(),
  natsUrls: z.array(z.string()).min(1),
  heartbeatIntervalMs: z.number().int().positive(),
  /** The manifest-signing key pinned at registration (SPKI PEM); "" trusts no manifest. */
  artifactPublicKey: z.string(),
  devices: z.array(simDeviceSchema),
});
export type FleetFile = z.infer<typeof fleetFileSchema>;

export class FleetFileError extends Error {
  override name = "FleetFileError";
}

/** The file's fleet, or undefined when there is no file yet. */
export async function loadFleetFile(path: string): Promise<FleetFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new FleetFileError(`${path}: not valid JSON`, { cause });
  }
  const parsed = fleetFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FleetFileError(`${path}: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  return parsed.data;
}

/** One device a line: a 10,000-device file stays readable and diffs by device. */
export async function saveFleetFile(path: string, fleet: FleetFile): Promise<void> {
  const { devices, ...head } = fleet;
  const lines = devices.map((d) => `    ${JSON.stringify(d)}`).join(",\n");
  const text = `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "devices": [\n${lines}\n  ]\n}\n`;
  await writeFileAtomic(path, text);
}

/** The account that issued a device JWT (its scoped signing key's account). */
export function jwtIssuerAccount(jwt: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString());
    return payload?.nats?.issuer_account ?? payload?.iss;
  } catch {
    return undefined;
  }
}
