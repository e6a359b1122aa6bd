// Bearer API tokens with roles. Roles are ordered: an admin can do what an operator can, and an
// operator what a viewer can.
import { PermissionDeniedError, UnauthenticatedError } from "../errors";

export type Role = "admin" | "operator" | "viewer";
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export interface Principal {
  tokenId: string;
  role: Role;
  /** When the token stops working; null or absent: never (open streams close then). */
  expiresAt?: Date | null;
}

export interface ApiTokenVerifier {
  verify(secret: string): Promise<{ id: string; role: Role; expiresAt?: Date | null } | null>;
  /** Records `lastUsedAt`; optional (tests' fakes leave it out). */
  touch?(id: string, at: Date): Promise<void>;
}

/** lastUsedAt is written at most this often per token: cheap, and close enough. */
const TOUCH_EVERY_MS = 60_000;

export interface Authenticator {
  authenticate(secret: string | undefined): Promise<Principal>;
}

// No cache: every REST and gRPC call verifies against the database, so a revoked or expired
// token stops working on the next call, on every replica.
export class AuthService implements Authenticator {
  private readonly touched = new Map<string, number>();

  constructor(private readonly tokens: ApiTokenVerifier) {}

  async authenticate(secret: string | undefined): Promise<Principal> {
    if (!secret) throw new UnauthenticatedError("a bearer token is required");
    const token = await this.tokens.verify(secret);
    if (!token) throw new UnauthenticatedError("the bearer token is not valid");
    this.touch(token.id);
    return { tokenId: token.id, role: token.role, expiresAt: token.expiresAt ?? null };
  }

  private touch(id: string): void {
    const now = Date.now();
    if (!this.tokens.touch || now - (this.touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    if (this.touched.size > 10_000) this.touched.clear();
    this.touched.set(id, now);
    // Best effort: a failed write must not fail the request it describes.
    this.tokens.touch(id, new Date(now)).catch(() => undefined);
  }
}

export function requireRole(principal: Principal, needed: Role): void {
  if (RANK[principal.role] < RANK[needed]) {
    throw new PermissionDeniedError(
      `this needs the ${needed} role; the token has ${principal.role}`,
    );
  }
}
