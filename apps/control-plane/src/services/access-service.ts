// API tokens (create, list, revoke) and the audit log over REST (issue 11, "Credentials").
import type { ApiTokenInfo, AuditEvent, Repos } from "@edgefleet/db";
import type {
  ApiTokenView,
  AuditEventView,
  AuditPage,
  CreatedApiToken,
} from "@edgefleet/protocol/rest";
import { z } from "zod";
import { InvalidArgumentError, NotFoundError, StateConflictError } from "../errors";
import type { TokenRevocations } from "../token-revocations";
import { type Principal, requireRole } from "./auth-service";
import { parseInput } from "./validation";

export const createApiTokenSchema = z.object({
  name: z.string().min(1).max(100),
  role: z.enum(["admin", "operator", "viewer"]),
  /** One minute to about ten years; absent: never expires. */
  expiresInSeconds: z
    .number()
    .int()
    .min(60)
    .max(10 * 366 * 86_400)
    .optional(),
});

const cursorRule = "is not a nextCursor from an earlier page";
const dateParam = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), "must be an ISO 8601 date-time")
  .transform((s) => new Date(s));

export const auditQuerySchema = z.object({
  actor: z.string().min(1).max(200).optional(),
  action: z.string().min(1).max(100).optional(),
  subjectType: z.string().min(1).max(100).optional(),
  subjectId: z.string().min(1).max(200).optional(),
  since: dateParam.optional(),
  until: dateParam.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z
    .string()
    .regex(/^[1-9][0-9]{0,18}$/, cursorRule)
    .optional(),
});

export class AccessService {
  constructor(
    private readonly deps: {
      repos: Pick<Repos, "apiTokens" | "audit">;
      revocations: TokenRevocations;
      now?: () => Date;
    },
  ) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  async createApiToken(principal: Principal, body: unknown): Promise<CreatedApiToken> {
    requireRole(principal, "admin");
    const input = parseInput(createApiTokenSchema, body ?? {});
    const actor = `apitoken:${principal.tokenId}`;
    const expiresAt =
      input.expiresInSeconds === undefined
        ? null
        : new Date(this.now().getTime() + input.expiresInSeconds * 1000);
    const { token, secret } = await this.deps.repos.apiTokens.create({
      name: input.name,
      role: input.role,
      createdBy: actor,
      expiresAt,
    });
    await this.deps.repos.audit.append({
      actor,
      action: "api_token.created",
      subjectType: "api_token",
      subjectId: token.id,
      data: { name: token.name, role: token.role, expiresAt: expiresAt?.toISOString() ?? null },
    });
    return { ...apiTokenView(token), token: secret };
  }

  async listApiTokens(principal: Principal): Promise<{ items: ApiTokenView[] }> {
    requireRole(principal, "admin");
    return { items: (await this.deps.repos.apiTokens.list()).map(apiTokenView) };
  }

  /** Revokes at once: REST and gRPC verify every call; open streams close on every replica. */
  async revokeApiToken(principal: Principal, id: string): Promise<ApiTokenView> {
    requireRole(principal, "admin");
    const actor = `apitoken:${principal.tokenId}`;
    const result = await this.deps.repos.apiTokens.revoke(id, actor, this.now());
    if (result === "not_found") throw new NotFoundError(`no API token ${id}`);
    if (result === "already_revoked")
      throw new StateConflictError(`API token ${id} is already revoked`);
    if (result === "last_admin") {
      throw new StateConflictError(
        `API token ${id} is the last usable admin token: create another admin token first`,
      );
    }
    await this.deps.repos.audit.append({
      actor,
      action: "api_token.revoked",
      subjectType: "api_token",
      subjectId: id,
    });
    this.deps.revocations.publish({ tokenId: id, reason: "revoked" });
    const token = (await this.deps.repos.apiTokens.list()).find((t) => t.id === id);
    if (!token) throw new NotFoundError(`no API token ${id}`);
    return apiTokenView(token);
  }

  async listAudit(principal: Principal, rawQuery: unknown): Promise<AuditPage> {
    requireRole(principal, "admin");
    // A misspelt filter must not silently widen the answer to everything.
    for (const key of Object.keys((rawQuery as object | undefined) ?? {})) {
      if (!(key in auditQuerySchema.shape)) {
        throw new InvalidArgumentError(key, "is not an audit filter");
      }
    }
    const q = parseInput(auditQuerySchema, rawQuery ?? {});
    if (q.since && q.until && q.since >= q.until) {
      throw new InvalidArgumentError("until", "must be after since");
    }
    const rows = await this.deps.repos.audit.list({
      actor: q.actor,
      action: q.action,
      subjectType: q.subjectType,
      subjectId: q.subjectId,
      since: q.since,
      until: q.until,
      beforeId: q.cursor === undefined ? undefined : BigInt(q.cursor),
      limit: q.limit + 1,
    });
    const items = rows.slice(0, q.limit);
    const last = items.at(-1);
    return {
      items: items.map(auditView),
      nextCursor: rows.length > q.limit && last ? last.id.toString() : null,
    };
  }
}

export function apiTokenView(t: ApiTokenInfo): ApiTokenView {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    createdBy: t.createdBy,
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null,
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
    revokedBy: t.revokedBy ?? null,
  };
}

function auditView(e: AuditEvent): AuditEventView {
  return {
    id: e.id.toString(),
    at: e.at.toISOString(),
    actor: e.actor,
    action: e.action,
    subjectType: e.subjectType,
    subjectId: e.subjectId,
    data: e.data,
  };
}
