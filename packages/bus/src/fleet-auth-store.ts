// Persists the fleet identity. The file holds every fleet secret, so it is owner-only and
// written atomically: a crash mid-write must never leave a half file that loses the operator.
import { chmod, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createFileAtomic, writeFileAtomic } from "./atomic-file";
import { createFleetAuth, type FleetAuth, type FleetSeeds } from "./fleet-auth";

export const FLEET_AUTH_FILE = "fleet-auth.json";
const FILE_VERSION = 1;

export class FleetAuthFileError extends Error {
  override name = "FleetAuthFileError";
  constructor(
    readonly path: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: ${message}`, options);
  }
}

interface FleetAuthFile {
  version: number;
  auth: FleetAuth;
}

function seedsFrom(path: string, parsed: unknown): FleetSeeds {
  const file = parsed as Partial<FleetAuthFile>;
  if (file?.version !== FILE_VERSION || typeof file.auth !== "object" || !file.auth) {
    throw new FleetAuthFileError(path, `unsupported or missing version (want ${FILE_VERSION})`);
  }
  const a = file.auth as Partial<Record<keyof FleetAuth, { seed?: unknown }>>;
  const seeds = {
    operator: a.operator?.seed,
    systemAccount: a.systemAccount?.seed,
    fleetAccount: a.fleetAccount?.seed,
    deviceSigningKey: (a.fleetAccount as { deviceSigningKey?: { seed?: unknown } } | undefined)
      ?.deviceSigningKey?.seed,
    controlPlane: a.controlPlane?.seed,
  };
  for (const [field, value] of Object.entries(seeds)) {
    if (typeof value !== "string") throw new FleetAuthFileError(path, `missing seed ${field}`);
  }
  // Files written before the full resolver have no system user: a new one is made (and saved).
  const systemUser = (a as { systemUser?: { seed?: unknown } }).systemUser?.seed;
  return { ...(seeds as FleetSeeds), ...(typeof systemUser === "string" ? { systemUser } : {}) };
}

/** Claims that matter to the server, so re-issuing only to bump `iat` does not rewrite the file. */
function claimsOf(jwt: string | undefined): string {
  const payload = jwt?.split(".")[1];
  if (!payload) return "";
  const { nats, name, sub, iss } = JSON.parse(Buffer.from(payload, "base64url").toString());
  return JSON.stringify({ nats, name, sub, iss });
}

function sameClaims(a: FleetAuth, b: FleetAuth): boolean {
  return (
    a.fleetAccount?.deviceSigningKey?.publicKey === b.fleetAccount.deviceSigningKey.publicKey &&
    (["operator", "systemAccount", "fleetAccount", "controlPlane", "systemUser"] as const).every(
      (k) => a[k]?.publicKey === b[k].publicKey && claimsOf(a[k]?.jwt) === claimsOf(b[k].jwt),
    )
  );
}

/**
 * Loads `<stateDir>/fleet-auth.json` or creates it. JWTs are re-issued from the stored seeds
 * on every load, so a changed device template reaches the server config without new keys;
 * device JWTs minted earlier stay valid because the keys do not change.
 */
export async function loadOrCreateFleetAuth(stateDir: string): Promise<FleetAuth> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, FLEET_AUTH_FILE);
  let text = await readIfExists(path);
  if (text === undefined) {
    const auth = await createFleetAuth();
    // Two processes starting together must end up with one identity, not the last writer's.
    if (await createFileAtomic(path, serialize(auth))) return auth;
    text = (await readIfExists(path)) ?? "";
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new FleetAuthFileError(path, "not valid JSON", { cause });
  }
  const stored = (parsed as FleetAuthFile).auth;
  const auth = await createFleetAuth(seedsFrom(path, parsed));
  if (!sameClaims(stored, auth)) {
    await writeFileAtomic(path, serialize(auth));
    return auth;
  }
  // Tighten a file someone loosened by hand.
  await chmod(path, 0o600);
  return stored;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    return undefined;
  }
}

function serialize(auth: FleetAuth): string {
  const file: FleetAuthFile = { version: FILE_VERSION, auth };
  return `${JSON.stringify(file, null, 2)}\n`;
}
