// The agent's identity lives in its data dir: the nkey seed it generated (never sent anywhere) and
// what enrollment returned. Files are written atomically and readable by the owner only.
import { chmod, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { formatCreds, writeFileAtomic } from "@edgefleet/bus";
import { z } from "zod";

const identitySchema = z.object({
  deviceId: z.string().min(1),
  publicKey: z.string().min(1),
  natsUrls: z.array(z.string()).min(1),
  userJwt: z.string().min(1),
  heartbeatIntervalMs: z.number().int().positive(),
  enrolledAt: z.string(),
  /**
   * The control plane's manifest-signing key (SPKI PEM), pinned at enrollment: the only key
   * whose signatures this device trusts. Absent in identities enrolled before signing existed.
   */
  artifactPublicKey: z.string().optional(),
});
export type DeviceIdentity = z.infer<typeof identitySchema>;

export class IdentityStoreError extends Error {
  override name = "IdentityStoreError";
}

export class IdentityStore {
  constructor(private readonly dir: string) {}

  private get seedPath() {
    return join(this.dir, "device.nk");
  }
  private get identityPath() {
    return join(this.dir, "identity.json");
  }
  get credsPath() {
    return join(this.dir, "device.creds");
  }

  async loadSeed(): Promise<string | undefined> {
    return readOptional(this.seedPath);
  }

  async saveSeed(seed: string): Promise<void> {
    await this.writePrivate(this.seedPath, seed);
  }

  async loadIdentity(): Promise<DeviceIdentity | undefined> {
    const text = await readOptional(this.identityPath);
    if (text === undefined) return undefined;
    const parsed = identitySchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new IdentityStoreError(`${this.identityPath} is damaged; remove it to enroll again`);
    }
    return parsed.data;
  }

  async saveIdentity(identity: DeviceIdentity, creds: string): Promise<void> {
    await this.writePrivate(this.credsPath, creds);
    await this.writePrivate(this.identityPath, `${JSON.stringify(identity, null, 2)}\n`);
  }

  /**
   * A renewed JWT (issue 11): the creds file first, then the identity, each replaced whole
   * (fsynced temp file + rename), so a crash leaves either the old JWT or the new one.
   */
  async saveRenewedJwt(identity: DeviceIdentity, seed: string, userJwt: string) {
    const renewed = { ...identity, userJwt };
    await this.saveIdentity(renewed, formatCreds(userJwt, seed));
    return renewed;
  }

  private async writePrivate(path: string, content: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    await writeFileAtomic(path, content);
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
