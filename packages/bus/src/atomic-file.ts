// Secrets on disk: written whole or not at all, owner-only from the first byte.
import { randomBytes } from "node:crypto";
import { link, open, rename, rm } from "node:fs/promises";
import { formatCreds } from "./creds";

async function writeTemp(path: string, content: string, mode: number): Promise<string> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  return tmp;
}

/** Writes `content` to `path` (mode 0600 by default) via a temp file and rename. */
export async function writeFileAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  await rename(await writeTemp(path, content, mode), path);
}

/**
 * Like writeFileAtomic, but only if `path` does not exist yet (hard link: atomic and
 * exclusive). Returns false when another writer got there first.
 */
export async function createFileAtomic(path: string, content: string, mode = 0o600) {
  const tmp = await writeTemp(path, content, mode);
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** A device's or service's `.creds` file (JWT + seed), mode 0600. */
export function writeCredsFile(path: string, jwt: string, seed: string | Uint8Array) {
  return writeFileAtomic(path, formatCreds(jwt, seed));
}
