// `edgefleet tokens create`: a one-time (or n-time) enrollment token, and how to start an agent
// with it.
import type { CreatedEnrollmentToken } from "@edgefleet/protocol/rest";
import { type ApiTarget, callApi } from "./api-client";
import { ApiError, CliInputError } from "./errors";

/** The request's fields as the flags that set them, so an error names what the person typed. */
const FLAGS: Record<string, string> = {
  label: "--label",
  expiresInSeconds: "--ttl",
  maxUses: "--max-uses",
};

export interface TokenOptions {
  label?: string;
  ttlSeconds?: number;
  maxUses?: number;
}

export function createEnrollmentToken(
  target: ApiTarget,
  o: TokenOptions,
): Promise<CreatedEnrollmentToken> {
  return callApi<CreatedEnrollmentToken>(target, "POST", "/api/v1/enrollment-tokens", {
    ...(o.label !== undefined ? { label: o.label } : {}),
    ...(o.ttlSeconds !== undefined ? { expiresInSeconds: o.ttlSeconds } : {}),
    ...(o.maxUses !== undefined ? { maxUses: o.maxUses } : {}),
  }).catch((err) => {
    const flag = err instanceof ApiError && err.field ? FLAGS[err.field] : undefined;
    if (!flag) throw err;
    throw new CliInputError(`${flag} (${err.message})`);
  });
}

/** The control plane's gRPC address as agents see it: the REST host on the default gRPC port. */
export function defaultGrpcAddress(restUrl: string): string {
  const host = new URL(restUrl).hostname;
  return `${host.includes(":") ? `[${host}]` : host}:50051`;
}

/** The shell line that starts an agent with the token (what the README shows). */
export function agentCommand(token: string, grpc: string): string {
  return `ENROLLMENT_TOKEN=${token} CONTROL_PLANE_GRPC=${grpc} DATA_DIR=/var/lib/edgefleet node --max-semi-space-size=1 --lite-mode apps/agent/dist/agent.mjs`;
}

export function formatToken(t: CreatedEnrollmentToken, command: string): string {
  const uses = t.maxUses === 1 ? "1 use" : `${t.maxUses} uses`;
  return [
    `enrollment token ${t.id} (label ${t.label}, ${uses}, expires ${t.expiresAt})`,
    "shown once, stored hashed: copy it now",
    "",
    `  ${t.token}`,
    "",
    "start an agent with it (after npm run build -w @edgefleet/agent):",
    "",
    `  ${command}`,
  ].join("\n");
}
