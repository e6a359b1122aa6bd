// `edgefleet api-tokens` and `edgefleet audit` against a real control plane (Postgres, NATS,
// HTTP): the real entry runs as a child process; what it prints and how it exits is checked.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestControlPlane, type TestControlPlane } from "@edgefleet/control-plane/testing";
import type { ApiTokenView, AuditPage, CreatedApiToken } from "@edgefleet/protocol/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "edgefleet.mjs");

let stack: TestControlPlane;
let env: Record<string, string>;

/** Async, so the in-process control plane keeps answering while the CLI runs. */
function cli(extra: Record<string, string>, ...args: string[]) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => !e[0].startsWith("EDGEFLEET_") && e[1] !== undefined,
    ),
  );
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...extra } });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => {
    out.stdout += d;
  });
  child.stderr.on("data", (d) => {
    out.stderr += d;
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, ...out })),
  );
}

beforeAll(async () => {
  stack = await startTestControlPlane();
  env = { EDGEFLEET_URL: stack.cp.httpUrl, EDGEFLEET_TOKEN: stack.adminToken };
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe("edgefleet api-tokens and audit", { timeout: 60_000 }, () => {
  it("creates, lists and revokes a token; the revoked token stops working", async () => {
    const made = await cli(env, "api-tokens", "create", "--name", "ci", "--role", "operator");
    expect(made.code, made.stderr).toBe(0);
    const id = /^API token (\S+) \(ci, role operator, never expires\)/.exec(made.stdout)?.[1];
    const secret = /^ {2}(\S{20,})$/m.exec(made.stdout)?.[1];
    expect(id).toBeDefined();
    expect((await stack.api("/api/v1/me", { token: secret })).body).toEqual({
      tokenId: id,
      role: "operator",
    });

    const list = await cli(env, "api-tokens", "list");
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split("\n")[0]).toMatch(/^id\s+name\s+role\s+state\s+created\s+last used/);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+ci\\s+operator\\s+active`));
    expect(list.stdout).not.toContain(secret);

    const revoked = await cli(env, "api-tokens", "revoke", id ?? "");
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout.trim()).toBe(`revoked API token ${id} (ci, role operator)`);
    expect((await stack.api("/api/v1/me", { token: secret })).status).toBe(401);
    const json = JSON.parse((await cli(env, "api-tokens", "list", "--json")).stdout) as {
      items: ApiTokenView[];
    };
    expect(json.items.find((t) => t.id === id)?.revokedAt).not.toBeNull();

    const again = await cli(env, "api-tokens", "revoke", id ?? "");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^edgefleet: error: .*already revoked/);
  });

  it("prints the audit log filtered by actor, action, since and limit", async () => {
    const created = JSON.parse(
      (await cli(env, "api-tokens", "create", "--name", "a", "--role", "viewer", "--json")).stdout,
    ) as CreatedApiToken;
    const me = (await stack.api("/api/v1/me")).body as { tokenId: string };
    const actor = `apitoken:${me.tokenId}`;
    const table = await cli(env, "audit", "--actor", actor, "--action", "api_token.created");
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^at\s+actor\s+action\s+subject\s+data/);
    expect(lines[1]).toContain(`${actor}  api_token.created  api_token:${created.id}`);
    for (const line of lines.slice(1)) expect(line).toContain("api_token.created");

    const one = JSON.parse(
      (await cli(env, "audit", "--since", "10m", "--limit", "1", "--json")).stdout,
    ) as AuditPage;
    expect(one.items).toHaveLength(1);
    expect(one.nextCursor).not.toBeNull();
    const future = await cli(env, "audit", "--since", "2999-01-01T00:00:00Z");
    expect(future.stdout.trim()).toBe("no audit events match");
  });

  it("names the flag on bad input, and a viewer is refused", async () => {
    const bad = await cli(env, "audit", "--since", "yesterday");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^edgefleet: error: --since: "yesterday" is neither/);
    const role = await cli(env, "api-tokens", "create", "--name", "x", "--role", "root");
    expect(role.code).not.toBe(0);
    expect(role.stderr).toMatch(/--role/);
    const viewer = await stack.apiToken("viewer");
    const refused = await cli({ ...env, EDGEFLEET_TOKEN: viewer }, "audit");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/403.*admin role/);
  });
});
