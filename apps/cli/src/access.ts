// `edgefleet api-tokens create|list|revoke` and `edgefleet audit` (issue 11): admin only.
import type {
  ApiTokenView,
  AuditEventView,
  AuditPage,
  CreatedApiToken,
} from "@edgefleet/protocol/rest";
import { type ApiTarget, callApi } from "./api-client";
import { ApiError, CliInputError } from "./errors";
import { parseDuration } from "./labels";
import { columns, fmtAge } from "./table";

/** An API error about a request field, as the flag that set it. */
function asFlagError(flags: Record<string, string>) {
  return (err: unknown): never => {
    const flag = err instanceof ApiError && err.field ? flags[err.field] : undefined;
    if (!flag) throw err;
    throw new CliInputError(`${flag} (${(err as Error).message})`);
  };
}

export function createApiToken(
  target: ApiTarget,
  o: { name: string; role: string; ttlSeconds?: number },
): Promise<CreatedApiToken> {
  return callApi<CreatedApiToken>(target, "POST", "/api/v1/api-tokens", {
    name: o.name,
    role: o.role,
    ...(o.ttlSeconds !== undefined ? { expiresInSeconds: o.ttlSeconds } : {}),
  }).catch(asFlagError({ name: "--name", role: "--role", expiresInSeconds: "--ttl" }));
}

export async function listApiTokens(target: ApiTarget): Promise<ApiTokenView[]> {
  return (await callApi<{ items: ApiTokenView[] }>(target, "GET", "/api/v1/api-tokens")).items;
}

export function revokeApiToken(target: ApiTarget, id: string): Promise<ApiTokenView> {
  return callApi<ApiTokenView>(
    target,
    "POST",
    `/api/v1/api-tokens/${encodeURIComponent(id)}/revoke`,
  );
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  /** An ISO date-time, or a duration back from now (30m, 12h, 7d). */
  since?: string;
  limit?: number;
}

/** `--since 2h` is two hours before `now`; an ISO date-time passes as it is. */
export function sinceParam(since: string, now: number): string {
  if (/^\d+(?:\.\d+)?[smhd]?$/.test(since.trim())) {
    return new Date(now - parseDuration(since, "--since") * 1000).toISOString();
  }
  if (Number.isNaN(Date.parse(since))) {
    throw new CliInputError(
      `--since: "${since}" is neither an ISO date-time nor a duration (e.g. 2026-12-01T00:00:00Z, 30m, 12h, 7d)`,
    );
  }
  return since;
}

export function listAudit(target: ApiTarget, f: AuditFilter, now = Date.now()): Promise<AuditPage> {
  const q = new URLSearchParams();
  if (f.actor) q.set("actor", f.actor);
  if (f.action) q.set("action", f.action);
  if (f.since) q.set("since", sinceParam(f.since, now));
  if (f.limit !== undefined) q.set("limit", String(f.limit));
  const query = q.size ? `?${q}` : "";
  return callApi<AuditPage>(target, "GET", `/api/v1/audit${query}`).catch(
    asFlagError({ actor: "--actor", action: "--action", since: "--since", limit: "--limit" }),
  );
}

export function formatCreatedApiToken(t: CreatedApiToken): string {
  const expires = t.expiresAt ? `expires ${t.expiresAt}` : "never expires";
  return [
    `API token ${t.id} (${t.name}, role ${t.role}, ${expires})`,
    "shown once, stored hashed: copy it now",
    "",
    `  ${t.token}`,
  ].join("\n");
}

export function formatApiTokens(items: ApiTokenView[], now = Date.now()): string {
  if (items.length === 0) return "no API tokens";
  return columns<ApiTokenView>(
    [
      { header: "id", cell: (t) => t.id },
      { header: "name", cell: (t) => t.name },
      { header: "role", cell: (t) => t.role },
      { header: "state", cell: (t) => tokenState(t, now) },
      { header: "created", cell: (t) => fmtAge(t.createdAt, now) },
      { header: "last used", cell: (t) => fmtAge(t.lastUsedAt, now) },
      { header: "created by", cell: (t) => t.createdBy },
    ],
    items,
  );
}

function tokenState(t: ApiTokenView, now: number): string {
  if (t.revokedAt) return `revoked ${fmtAge(t.revokedAt, now)}`;
  if (t.expiresAt && Date.parse(t.expiresAt) <= now) return "expired";
  return t.expiresAt ? `active until ${t.expiresAt}` : "active";
}

export function formatAudit(page: AuditPage): string {
  if (page.items.length === 0) return "no audit events match";
  return columns<AuditEventView>(
    [
      { header: "at", cell: (e) => e.at },
      { header: "actor", cell: (e) => e.actor },
      { header: "action", cell: (e) => e.action },
      { header: "subject", cell: (e) => `${e.subjectType}:${e.subjectId}` },
      { header: "data", cell: (e) => auditData(e.data) },
    ],
    page.items,
  );
}

/** The event's data on one line, short enough for a table cell. */
function auditData(data: unknown): string {
  const text = data && Object.keys(data).length ? JSON.stringify(data) : "";
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
