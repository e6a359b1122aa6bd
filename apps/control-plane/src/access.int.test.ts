// API tokens and the audit log (issue 11, "Credentials"), against real Postgres, nats-server,
// HTTP, gRPC and WebSocket over loopback: a revoked or expired token stops working at once on
// every transport, and an open stream of it closes on every replica.
import { randomBytes } from "node:crypto";
import type { ApiTokenView, AuditPage, CreatedApiToken } from "@edgefleet/protocol/rest";
import { until } from "@edgefleet/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { ControlPlane } from "./control-plane";
import { startTestControlPlane, type TestControlPlane } from "./testing";
import { CLOSE_TOKEN_EXPIRED, CLOSE_TOKEN_REVOKED } from "./ws/fleet-stream";

let stack: TestControlPlane;
let replica: ControlPlane;

beforeAll(async () => {
  stack = await startTestControlPlane();
  replica = await stack.startReplica();
}, 60_000);

afterAll(async () => {
  await replica?.stop();
  await stack?.stop();
});

const post = (path: string, body: unknown, token?: string) =>
  stack.api(path, { method: "POST", body: JSON.stringify(body), token });

async function createToken(body: Record<string, unknown>): Promise<CreatedApiToken> {
  const res = await post("/api/v1/api-tokens", body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as unknown as CreatedApiToken;
}

/** Opens the stream on `httpUrl`; resolves once open, records how it closed. */
async function openStream(httpUrl: string, token: string) {
  const ws = new WebSocket(`${httpUrl.replace("http", "ws")}/api/v1/stream`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, closed };
}

async function grpcListRollouts(token: string): Promise<number> {
  const { FleetServiceClient, ListRolloutsRequest } = await import("@edgefleet/protocol/grpc");
  const { credentials, Metadata } = await import("@grpc/grpc-js");
  const client = new FleetServiceClient(stack.cp.grpcAddress, credentials.createInsecure());
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  try {
    return await new Promise<number>((resolve) =>
      client.listRollouts(ListRolloutsRequest.fromPartial({}), md, (err) =>
        resolve(err ? (err.code ?? -1) : 0),
      ),
    );
  } finally {
    client.close();
  }
}

describe("API tokens", () => {
  it("creates a token whose secret is shown once, lists it without secrets, admin only", async () => {
    const created = await createToken({ name: "ci", role: "operator" });
    expect(created.token).toMatch(/.{20,}/);
    expect(created).toMatchObject({ name: "ci", role: "operator", expiresAt: null });
    expect(created.createdBy).toMatch(/^apitoken:/);
    const me = await stack.api("/api/v1/me", { token: created.token });
    expect(me.body).toEqual({ tokenId: created.id, role: "operator" });

    const list = await stack.api("/api/v1/api-tokens");
    expect(list.status).toBe(200);
    const items = list.body.items as ApiTokenView[];
    const row = items.find((t) => t.id === created.id);
    expect(row).toMatchObject({ name: "ci", role: "operator", revokedAt: null });
    expect(JSON.stringify(list.body)).not.toContain(created.token);
    // lastUsedAt is written after use (best effort, at most once a minute per token).
    await until("lastUsedAt recorded", async () => {
      const again = (await stack.api("/api/v1/api-tokens")).body.items as ApiTokenView[];
      return again.find((t) => t.id === created.id)?.lastUsedAt ? true : undefined;
    });

    for (const [path, init] of [
      ["/api/v1/api-tokens", { method: "GET" }],
      [
        "/api/v1/api-tokens",
        { method: "POST", body: JSON.stringify({ name: "x", role: "admin" }) },
      ],
      [`/api/v1/api-tokens/${created.id}/revoke`, { method: "POST" }],
      ["/api/v1/audit", { method: "GET" }],
    ] as const) {
      const res = await stack.api(path, { ...init, token: created.token });
      expect(res.status, `${init.method} ${path}`).toBe(403);
    }
  });

  it("rejects bad input naming the field, and creates nothing", async () => {
    const before = ((await stack.api("/api/v1/api-tokens")).body.items as unknown[]).length;
    for (const [body, field] of [
      [{ role: "admin" }, "name"],
      [{ name: "x", role: "root" }, "role"],
      [{ name: "x", role: "viewer", expiresInSeconds: 5 }, "expiresInSeconds"],
    ] as const) {
      const res = await post("/api/v1/api-tokens", body);
      expect(res.status).toBe(400);
      expect((res.body.error as { field: string }).field).toBe(field);
    }
    expect(((await stack.api("/api/v1/api-tokens")).body.items as unknown[]).length).toBe(before);
    const missing = await post(
      "/api/v1/api-tokens/00000000-0000-4000-8000-000000000000/revoke",
      {},
    );
    expect(missing.status).toBe(404);
  });

  it("a revoked token stops at once on REST and gRPC, and its open streams close on both replicas", async () => {
    const victim = await createToken({ name: "victim", role: "viewer" });
    const other = await createToken({ name: "bystander", role: "viewer" });
    expect((await stack.api("/api/v1/devices", { token: victim.token })).status).toBe(200);
    expect(await grpcListRollouts(victim.token)).toBe(0);
    const here = await openStream(stack.cp.httpUrl, victim.token);
    const there = await openStream(replica.httpUrl, victim.token);
    const bystander = await openStream(replica.httpUrl, other.token);

    // Revoked through the replica: the first replica's socket must close too (over NATS).
    const res = await fetch(`${replica.httpUrl}/api/v1/api-tokens/${victim.id}/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as ApiTokenView).revokedAt).not.toBeNull();

    for (const s of [here, there]) {
      expect(await s.closed).toEqual({ code: CLOSE_TOKEN_REVOKED, reason: "api token revoked" });
    }
    expect((await stack.api("/api/v1/devices", { token: victim.token })).status).toBe(401);
    const { status } = await import("@grpc/grpc-js");
    expect(await grpcListRollouts(victim.token)).toBe(status.UNAUTHENTICATED);
    // Other tokens' sockets stay open.
    expect(bystander.ws.readyState).toBe(WebSocket.OPEN);
    bystander.ws.close();

    const again = await post(`/api/v1/api-tokens/${victim.id}/revoke`, {});
    expect(again.status).toBe(409);
  });

  it("REST, gRPC unary, an open gRPC watch and an open WebSocket are all refused within 1 s of the revoke", async () => {
    const { modelId } = await stack.importModel({
      name: "watched",
      variants: [{ name: "fp32", bytes: randomBytes(500) }],
    });
    const created = await post("/api/v1/rollouts", {
      modelId,
      selector: { labels: { fleet: "nobody" } },
      policy: { latencySloMs: 50 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const victim = await createToken({ name: "watcher", role: "viewer" });
    const socket = await openStream(stack.cp.httpUrl, victim.token);
    const socketClosed = socket.closed.then((c) => ({ ...c, at: Date.now() }));

    const { FleetServiceClient, WatchRolloutRequest } = await import("@edgefleet/protocol/grpc");
    const { credentials, Metadata, status } = await import("@grpc/grpc-js");
    const client = new FleetServiceClient(stack.cp.grpcAddress, credentials.createInsecure());
    const md = new Metadata();
    md.set("authorization", `Bearer ${victim.token}`);
    try {
      const stream = client.watchRollout(
        WatchRolloutRequest.fromPartial({ rolloutId: String(created.body.id) }),
        md,
      );
      const streamEnded = new Promise<{ code: number; details: string; at: number }>((resolve) => {
        stream.on("error", (e: { code: number; details: string }) =>
          resolve({ code: e.code, details: e.details, at: Date.now() }),
        );
        stream.on("end", () => resolve({ code: status.OK, details: "ended", at: Date.now() }));
      });
      await new Promise((resolve) => stream.once("data", resolve));

      // Revoked through the replica: this replica's watch and socket end over NATS.
      const revokedAt = Date.now();
      const res = await fetch(`${replica.httpUrl}/api/v1/api-tokens/${victim.id}/revoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${stack.adminToken}` },
      });
      expect(res.status).toBe(200);
      const [ws, grpc] = await Promise.all([socketClosed, streamEnded]);
      const rest = await stack.api("/api/v1/devices", { token: victim.token });
      const unary = await grpcListRollouts(victim.token);
      const refusedBy = Date.now();

      expect(ws).toMatchObject({ code: CLOSE_TOKEN_REVOKED, reason: "api token revoked" });
      expect(grpc).toMatchObject({
        code: status.UNAUTHENTICATED,
        details: "the bearer token was revoked: the watch is ended",
      });
      expect(rest.status).toBe(401);
      expect(unary).toBe(status.UNAUTHENTICATED);
      for (const at of [ws.at, grpc.at, refusedBy]) expect(at - revokedAt).toBeLessThan(1000);
    } finally {
      client.close();
    }
  });

  it("an expired token stops working, and its open stream closes when it expires", async () => {
    const created = await createToken({ name: "short", role: "viewer", expiresInSeconds: 60 });
    // Bring the expiry near instead of waiting a minute (the database is the source of truth).
    const { createPrisma } = await import("@edgefleet/db");
    const prisma = createPrisma(stack.db.url);
    try {
      await prisma.apiToken.update({
        where: { id: created.id },
        data: { expiresAt: new Date(Date.now() + 1500) },
      });
    } finally {
      await prisma.$disconnect();
    }
    const s = await openStream(stack.cp.httpUrl, created.token);
    expect((await stack.api("/api/v1/me", { token: created.token })).status).toBe(200);
    expect(await s.closed).toEqual({ code: CLOSE_TOKEN_EXPIRED, reason: "api token expired" });
    expect((await stack.api("/api/v1/me", { token: created.token })).status).toBe(401);
  });
});

describe("GET /api/v1/audit", () => {
  it("filters by actor, action, subject and time, newest first, keyset-paged", async () => {
    const made: CreatedApiToken[] = [];
    for (let i = 0; i < 5; i++)
      made.push(await createToken({ name: `paged-${i}`, role: "viewer" }));
    const me = (await stack.api("/api/v1/me")).body as { tokenId: string };
    const actor = `apitoken:${me.tokenId}`;
    const q = (params: Record<string, string>) =>
      stack.api(`/api/v1/audit?${new URLSearchParams(params)}`);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const params: Record<string, string> = { actor, action: "api_token.created", limit: "2" };
      if (cursor) params.cursor = cursor;
      const res = await q(params);
      expect(res.status).toBe(200);
      const page = res.body as unknown as AuditPage;
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const e of page.items) {
        expect(e).toMatchObject({ actor, action: "api_token.created", subjectType: "api_token" });
        seen.push(e.subjectId);
      }
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    // Newest first, each once: the five just made come first, in reverse order.
    expect(seen.slice(0, 5)).toEqual(made.map((t) => t.id).reverse());
    expect(new Set(seen).size).toBe(seen.length);

    const one = await q({ subjectType: "api_token", subjectId: made[2]?.id ?? "" });
    expect((one.body as unknown as AuditPage).items.map((e) => e.action)).toEqual([
      "api_token.created",
    ]);
    const future = await q({ since: new Date(Date.now() + 60_000).toISOString() });
    expect((future.body as unknown as AuditPage).items).toEqual([]);
    const past = await q({ until: "2000-01-01T00:00:00Z" });
    expect((past.body as unknown as AuditPage).items).toEqual([]);
  });

  it("rejects bad filters naming the field", async () => {
    for (const [params, field] of [
      ["since=yesterday", "since"],
      ["limit=0", "limit"],
      ["cursor=abc", "cursor"],
      ["colour=red", "colour"],
      ["since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"],
    ] as const) {
      const res = await stack.api(`/api/v1/audit?${params}`);
      expect(res.status, params).toBe(400);
      expect((res.body.error as { field: string }).field, params).toBe(field);
    }
  });
});

// Last: it revokes the stack's own admin token.
describe("the last admin token", () => {
  it("refuses to revoke the last usable admin token with 409", async () => {
    const me = (await stack.api("/api/v1/me")).body as { tokenId: string };
    const admins = ((await stack.api("/api/v1/api-tokens")).body.items as ApiTokenView[]).filter(
      (t) => t.role === "admin" && !t.revokedAt && t.id !== me.tokenId,
    );
    for (const a of admins) {
      expect((await post(`/api/v1/api-tokens/${a.id}/revoke`, {})).status).toBe(200);
    }
    const res = await post(`/api/v1/api-tokens/${me.tokenId}/revoke`, {});
    expect(res.status).toBe(409);
    expect((res.body.error as { message: string }).message).toMatch(/last usable admin/);
    expect((await stack.api("/api/v1/me")).status).toBe(200);

    // With a second admin, the first can go; then the second is the last.
    const second = await createToken({ name: "admin-2", role: "admin" });
    const revokeFirst = await post(`/api/v1/api-tokens/${me.tokenId}/revoke`, {}, second.token);
    expect(revokeFirst.status).toBe(200);
    expect((await stack.api("/api/v1/me")).status).toBe(401);
    const last = await post(`/api/v1/api-tokens/${second.id}/revoke`, {}, second.token);
    expect(last.status).toBe(409);
  });
});
