import type { Db } from "./client";
import type { EnrollmentToken } from "./generated/prisma/client";
import { generateSecret, hashSecret } from "./secrets";

export interface NewEnrollmentToken {
  label: string;
  expiresAt: Date;
  maxUses: number;
  createdBy?: string | null;
}

/** A token as stored: never the secret, and its hash stays inside this package. */
export type EnrollmentTokenInfo = Omit<EnrollmentToken, "tokenHash">;

export type ConsumeRefusal = "unknown" | "expired" | "used_up";

export type ConsumeResult = { ok: true; tokenId: string } | { ok: false; reason: ConsumeRefusal };

export interface EnrollmentTokenRepo {
  /** Returns the plaintext secret; this is the only time it exists outside the caller. */
  create(input: NewEnrollmentToken): Promise<{ token: EnrollmentTokenInfo; secret: string }>;
  /**
   * Uses the token once, atomically: concurrent consumers of the last use cannot both win.
   * The refusal reason is for logs and audit; tell the client only that the token was refused.
   */
  consume(secret: string): Promise<ConsumeResult>;
  list(): Promise<EnrollmentTokenInfo[]>;
  /** The id of the token with this secret (whatever its state), or null: for audit records. */
  idOf(secret: string): Promise<string | null>;
}

export class PrismaEnrollmentTokenRepo implements EnrollmentTokenRepo {
  constructor(private readonly db: Db) {}

  async create(input: NewEnrollmentToken) {
    if (!Number.isInteger(input.maxUses) || input.maxUses < 1) {
      throw new RangeError(`maxUses must be a positive integer, got ${input.maxUses}`);
    }
    const secret = generateSecret();
    const { tokenHash: _, ...token } = await this.db.enrollmentToken.create({
      data: { ...input, tokenHash: hashSecret(secret) },
    });
    return { token, secret };
  }

  consume(secret: string): Promise<ConsumeResult> {
    return consumeEnrollmentToken(this.db, secret);
  }

  list(): Promise<EnrollmentTokenInfo[]> {
    return this.db.enrollmentToken.findMany({
      omit: { tokenHash: true },
      orderBy: { createdAt: "desc" },
    });
  }

  async idOf(secret: string): Promise<string | null> {
    const row = await this.db.enrollmentToken.findUnique({
      where: { tokenHash: hashSecret(secret) },
      select: { id: true },
    });
    return row?.id ?? null;
  }
}

/** Shared with enrollDevice, which consumes inside its own transaction. */
export async function consumeEnrollmentToken(db: Db, secret: string): Promise<ConsumeResult> {
  const hash = hashSecret(secret);
  // One conditional UPDATE: the row lock serialises concurrent consumers and the WHERE is
  // re-checked after the wait, so `uses` can never pass `maxUses`.
  const used = await db.$queryRaw<{ id: string }[]>`
    UPDATE "EnrollmentToken" SET "uses" = "uses" + 1
    WHERE "tokenHash" = ${hash} AND "uses" < "maxUses" AND "expiresAt" > now()
    RETURNING "id"::text AS "id"`;
  if (used[0]) return { ok: true, tokenId: used[0].id };
  const rows = await db.$queryRaw<{ expired: boolean }[]>`
    SELECT "expiresAt" <= now() AS "expired" FROM "EnrollmentToken" WHERE "tokenHash" = ${hash}`;
  const row = rows[0];
  if (!row) return { ok: false, reason: "unknown" };
  return { ok: false, reason: row.expired ? "expired" : "used_up" };
}
