// Roles are ordered (viewer < operator < admin), as the control plane checks them
// (apps/control-plane/src/services/auth-service.ts). The console hides what a role cannot do;
// the server refuses it regardless.
import type { Role } from "@edgefleet/protocol/rest";

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function can(role: Role | null | undefined, needed: Role): boolean {
  return role !== null && role !== undefined && RANK[role] >= RANK[needed];
}

export function isRole(value: unknown): value is Role {
  return value === "viewer" || value === "operator" || value === "admin";
}
