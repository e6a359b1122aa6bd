import type { Db } from "./client";
import { isUuid } from "./client";
import type { ApiToken, ApiTokenRole } from "./generated/prisma/client";
import { generateSecret, hashSecret } from "./secrets";

export type ApiTokenInfo = Omit<ApiToken, "tokenHash">;

export interface VerifiedApiToken {
  id: string;
  name: string;
  role: ApiTokenRole;
  /** Null: never expires. */
  expiresAt: Date | null;
}

export interface NewApiToken {
  name: string;
  role: ApiTokenRole;
  /** `apitoken:<id>` or `system`. */
  createdBy?: string;
  expiresAt?: Date | null;
}

export type RevokeResult = "revoked" | "not_found" | "already_revoked" | "last_admin";

export interface ApiTokenRepo {
  /** Returns the plaintext secret; this is the only time it exists outside the caller. */
  create(input: NewApiToken): Promise<{
    token: ApiTokenInfo;
    secret: string;
  }>;
  /** The token's identity and role, or null for an unknown, revoked or expired secret. */
  verify(secret: string, now?: Date): Promise<VerifiedApiToken | null>;
  /**
   * Revokes unless it is the last usable admin token (then "last_admin", nothing changes). The
   * check and the update run in one serializable-by-lock transaction, so two admins revoking each
   * other at once cannot lock everybody out.
   */
  revoke(id: string, by?: string, now?: Date): Promise<RevokeResult>;
  /** Records use; callers throttle (once a minute per token). */
  touch(id: string, at: Date): Promise<void>;
  /** All tokens ever created, revoked included (so a revoked admin is not silently re-minted). */
  count(): Promise<number>;
  list(): Promise<ApiTokenInfo[]>;
}

export class PrismaApiTokenRepo implements ApiTokenRepo {
  constructor(private readonly db: Db) {}

  async create(input: NewApiToken) {
    const secret = generateSecret();
    const { tokenHash: _, ...token } = await this.db.apiToken.create({
      data: {
        name: input.name,
        role: input.role,
        createdBy: input.createdBy ?? "system",
        expiresAt: input.expiresAt ?? null,
        tokenHash: hashSecret(secret),
      },
    });
    return { token, secret };
  }

  verify(secret: string, now = new Date()): Promise<VerifiedApiToken | null> {
    return this.db.apiToken.findFirst({
      where: {
        tokenHash: hashSecret(secret),
        revokedAt: null,
        OR: [{ expiresAt: null }, { expiresAt: { gt: now } }],
      },
      select: { id: true, name: true, role: true, expiresAt: true },
    });
  }

  async revoke(id: string, by = "system", now = new Date()): Promise<RevokeResult> {
    if (!isUuid(id)) return "not_found";
    const run = async (tx: Db): Promise<RevokeResult> => {
      // Lock every usable admin row: concurrent revokes of admins serialise here.
      const admins = await tx.$queryRaw<{ id: string }[]>`
        SELECT id::text AS id FROM "ApiToken"
        WHERE role = 'admin' AND "revokedAt" IS NULL AND ("expiresAt" IS NULL OR "expiresAt" > ${now})
        FOR UPDATE`;
      const row = await tx.apiToken.findUnique({ where: { id }, select: { revokedAt: true } });
      if (!row) return "not_found";
      if (row.revokedAt) return "already_revoked";
      if (admins.length === 1 && admins[0]?.id === id) return "last_admin";
      await tx.apiToken.update({ where: { id }, data: { revokedAt: now, revokedBy: by } });
      return "revoked";
    };
    // Inside a caller's transaction already: run there.
    return "$transaction" in this.db ? this.db.$transaction((tx) => run(tx)) : run(this.db);
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.db.apiToken.updateMany({ where: { id }, data: { lastUsedAt: at } });
  }

  count(): Promise<number> {
    return this.db.apiToken.count();
  }

  list(): Promise<ApiTokenInfo[]> {
    return this.db.apiToken.findMany({ omit: { tokenHash: true }, orderBy: { createdAt: "asc" } });
  }
}
