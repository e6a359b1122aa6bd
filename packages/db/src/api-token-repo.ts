import type { Db } from "./client";
import { isUuid } from "./client";
import type { ApiToken, ApiTokenRole } from "./generated/prisma/client";
import { generateSecret, hashSecret } from "./secrets";

export type ApiTokenInfo = Omit<ApiToken, "tokenHash">;

export interface VerifiedApiToken {
  id: string;
  name: string;
  role: ApiTokenRole;
}

export interface ApiTokenRepo {
  /** Returns the plaintext secret; this is the only time it exists outside the caller. */
  create(input: { name: string; role: ApiTokenRole }): Promise<{
    token: ApiTokenInfo;
    secret: string;
  }>;
  /** The token's identity and role, or null for an unknown or revoked secret. */
  verify(secret: string): Promise<VerifiedApiToken | null>;
  /** False when no such token or already revoked. */
  revoke(id: string): Promise<boolean>;
  /** All tokens ever created, revoked included (so a revoked admin is not silently re-minted). */
  count(): Promise<number>;
  list(): Promise<ApiTokenInfo[]>;
}

export class PrismaApiTokenRepo implements ApiTokenRepo {
  constructor(private readonly db: Db) {}

  async create(input: { name: string; role: ApiTokenRole }) {
    const secret = generateSecret();
    const { tokenHash: _, ...token } = await this.db.apiToken.create({
      data: { ...input, tokenHash: hashSecret(secret) },
    });
    return { token, secret };
  }

  verify(secret: string): Promise<VerifiedApiToken | null> {
    return this.db.apiToken.findFirst({
      where: { tokenHash: hashSecret(secret), revokedAt: null },
      select: { id: true, name: true, role: true },
    });
  }

  async revoke(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const res = await this.db.apiToken.updateMany({
      where: { id, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    return res.count === 1;
  }

  count(): Promise<number> {
    return this.db.apiToken.count();
  }

  list(): Promise<ApiTokenInfo[]> {
    return this.db.apiToken.findMany({ omit: { tokenHash: true }, orderBy: { createdAt: "asc" } });
  }
}
