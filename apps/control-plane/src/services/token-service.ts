// Enrollment tokens (created by admins) and the first admin API token.
import { access, chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Repos } from "@edgefleet/db";
import type { CreatedEnrollmentToken } from "@edgefleet/protocol/rest";
import { z } from "zod";
import { type Principal, requireRole } from "./auth-service";
import { parseInput } from "./validation";

export type { CreatedEnrollmentToken };

export const createEnrollmentTokenSchema = z.object({
  label: z.string().min(1).max(100).default("enrollment"),
  /** Lifetime in seconds: one minute to thirty days. */
  expiresInSeconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(3600),
  maxUses: z.number().int().min(1).max(100_000).default(1),
});

export class TokenService {
  constructor(
    private readonly deps: { repos: Pick<Repos, "enrollmentTokens" | "apiTokens" | "audit"> },
  ) {}

  async createEnrollmentToken(
    principal: Principal,
    body: unknown,
  ): Promise<CreatedEnrollmentToken> {
    requireRole(principal, "admin");
    const input = parseInput(createEnrollmentTokenSchema, body ?? {});
    const { token, secret } = await this.deps.repos.enrollmentTokens.create({
      label: input.label,
      expiresAt: new Date(Date.now() + input.expiresInSeconds * 1000),
      maxUses: input.maxUses,
      createdBy: `apitoken:${principal.tokenId}`,
    });
    await this.deps.repos.audit.append({
      actor: `apitoken:${principal.tokenId}`,
      action: "enrollment_token.created",
      subjectType: "enrollment_token",
      subjectId: token.id,
      data: { label: token.label, maxUses: token.maxUses },
    });
    return {
      id: token.id,
      token: secret,
      label: token.label,
      expiresAt: token.expiresAt.toISOString(),
      maxUses: token.maxUses,
    };
  }

  /**
   * For unattended stacks (docker compose): writes a many-use enrollment token to `path` unless
   * the file exists, so agents started next to the control plane can enroll.
   */
  async ensureBootstrapEnrollmentToken(path: string): Promise<{ created: boolean }> {
    if (await exists(path)) return { created: false };
    const { token, secret } = await this.deps.repos.enrollmentTokens.create({
      label: "bootstrap",
      expiresAt: new Date(Date.now() + 30 * 86_400_000),
      maxUses: 1000,
      createdBy: "system",
    });
    await writePrivate(path, secret);
    await this.deps.repos.audit.append({
      actor: "system",
      action: "enrollment_token.created",
      subjectType: "enrollment_token",
      subjectId: token.id,
      data: { label: token.label, maxUses: token.maxUses, writtenTo: path },
    });
    return { created: true };
  }

  /**
   * On first start (no API token exists) creates an admin token and writes it, readable by the
   * owner only, to `path`. Later starts leave both alone.
   */
  async ensureAdminToken(path: string): Promise<{ created: boolean }> {
    if ((await this.deps.repos.apiTokens.count()) > 0) return { created: false };
    const { token, secret } = await this.deps.repos.apiTokens.create({
      name: "bootstrap-admin",
      role: "admin",
    });
    await writePrivate(path, secret);
    await this.deps.repos.audit.append({
      actor: "system",
      action: "api_token.created",
      subjectType: "api_token",
      subjectId: token.id,
      data: { role: "admin", writtenTo: path },
    });
    return { created: true };
  }
}

async function writePrivate(path: string, secret: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${secret}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
