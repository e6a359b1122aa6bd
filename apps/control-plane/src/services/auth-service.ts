// Bearer API tokens with roles. Roles are ordered: an admin can do what an operator can, and an
// operator what a viewer can.
import { PermissionDeniedError, UnauthenticatedError } from "../errors";

export type Role = "admin" | "operator" | "viewer";
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export interface Principal {
  tokenId: string;
  role: Role;
}

export interface ApiTokenVerifier {
  verify(secret: string): Promise<{ id: string; role: Role } | null>;
}

export interface Authenticator {
  authenticate(secret: string | undefined): Promise<Principal>;
}

export class AuthService implements Authenticator {
  constructor(private readonly tokens: ApiTokenVerifier) {}

  async authenticate(secret: string | undefined): Promise<Principal> {
    if (!secret) throw new UnauthenticatedError("a bearer token is required");
    const token = await this.tokens.verify(secret);
    if (!token) throw new UnauthenticatedError("the bearer token is not valid");
    return { tokenId: token.id, role: token.role };
  }
}

export function requireRole(principal: Principal, needed: Role): void {
  if (RANK[principal.role] < RANK[needed]) {
    throw new PermissionDeniedError(
      `this needs the ${needed} role; the token has ${principal.role}`,
    );
  }
}
