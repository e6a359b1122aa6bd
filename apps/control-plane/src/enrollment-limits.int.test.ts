// Enrollment rate limits (issue 11) over real gRPC, Postgres and nats-server: per token and per
// source, refused with RESOURCE_EXHAUSTED, a `retry-after-ms` trailer and a message naming the
// limit; each refusal audited; nothing else written (no device, no token use).
import { createPrisma, createRepos } from "@edgefleet/db";
import { EnrollmentServiceClient, EnrollRequest } from "@edgefleet/protocol/grpc";
import type { AuditPage } from "@edgefleet/protocol/rest";
import { credentials, type Metadata, status } from "@grpc/grpc-js";
import { createUser } from "@nats-io/nkeys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimitedError } from "./errors";
import { EnrollmentLimits } from "./services/enrollment-limits";
import { startTestControlPlane, type TestControlPlane, testFacts } from "./testing";

let stack: TestControlPlane;
let client: EnrollmentServiceClient;

beforeAll(async () => {
  stack = await startTestControlPlane({
    enrollmentLimits: {
      perSource: { count: 6, periodMs: 60_000 },
      // One more every second after a burst of two.
      perToken: { count: 2, periodMs: 2_000 },
    },
  });
  client = new EnrollmentServiceClient(stack.cp.grpcAddress, credentials.createInsecure());
}, 60_000);

afterAll(async () => {
  client?.close();
  await stack?.stop();
});

async function enrollmentToken(): Promise<{ id: string; token: string }> {
  const res = await stack.api("/api/v1/enrollment-tokens", {
    method: "POST",
    body: JSON.stringify({ label: "limits", maxUses: 100 }),
  });
  expect(res.status).toBe(201);
  return res.body as { id: string; token: string };
}

type Outcome = { ok: true } | { ok: false; code: number; details: string; retryAfterMs: number };

function enroll(token: string): Promise<Outcome> {
  const req = EnrollRequest.fromPartial({
    token,
    publicKey: createUser().getPublicKey(),
    name: "limited",
    agentVersion: "test",
    facts: testFacts,
  });
  return new Promise((resolve) =>
    client.enroll(req, (err) => {
      if (!err) return resolve({ ok: true });
      const trailer = (err.metadata as Metadata).get("retry-after-ms")[0];
      resolve({ ok: false, code: err.code, details: err.details, retryAfterMs: Number(trailer) });
    }),
  );
}

async function tokenUses(id: string): Promise<number> {
  const prisma = createPrisma(stack.db.url);
  try {
    return (await prisma.enrollmentToken.findUniqueOrThrow({ where: { id } })).uses;
  } finally {
    await prisma.$disconnect();
  }
}

async function refusals(): Promise<AuditPage["items"]> {
  const res = await stack.api("/api/v1/audit?action=enrollment.refused");
  return (res.body as unknown as AuditPage).items;
}

describe("gRPC Enroll rate limits", () => {
  it("refuses per token, then per source, with RESOURCE_EXHAUSTED and retry-after-ms; audited", async () => {
    const a = await enrollmentToken();
    const b = await enrollmentToken();
    const c = await enrollmentToken();
    const devicesBefore = ((await stack.api("/api/v1/devices")).body.items as unknown[]).length;

    expect(await enroll(a.token)).toEqual({ ok: true });
    expect(await enroll(a.token)).toEqual({ ok: true });
    const byToken = await enroll(a.token);
    expect(byToken).toMatchObject({ ok: false, code: status.RESOURCE_EXHAUSTED });
    if (byToken.ok) throw new Error("unreachable");
    expect(byToken.details).toMatch(
      /enrollment rate limit ENROLL_RATE_PER_TOKEN \(2\/2s\) exceeded with this enrollment token; retry in \d+ ms/,
    );
    expect(byToken.retryAfterMs).toBeGreaterThan(0);
    expect(byToken.retryAfterMs).toBeLessThanOrEqual(1000);
    expect(await tokenUses(a.id)).toBe(2);
    // After the advertised wait, the token works again.
    await new Promise((r) => setTimeout(r, byToken.retryAfterMs + 20));
    expect(await enroll(a.token)).toEqual({ ok: true });

    // Another token from the same source: the source's 6 per minute run out (4 used so far).
    expect(await enroll(b.token)).toEqual({ ok: true });
    expect(await enroll(b.token)).toEqual({ ok: true });
    const bySource = await enroll(c.token);
    expect(bySource).toMatchObject({ ok: false, code: status.RESOURCE_EXHAUSTED });
    if (bySource.ok) throw new Error("unreachable");
    expect(bySource.details).toMatch(
      /ENROLL_RATE_PER_SOURCE \(6\/1m\) exceeded from 127\.0\.0\.1; retry in \d+ ms/,
    );
    expect(bySource.retryAfterMs).toBeGreaterThan(5_000);
    expect(await tokenUses(c.id)).toBe(0);

    const devicesAfter = ((await stack.api("/api/v1/devices")).body.items as unknown[]).length;
    expect(devicesAfter - devicesBefore).toBe(5);
    const events = await refusals();
    expect(events.map((e) => e.actor)).toEqual(["source:127.0.0.1", `enrollment_token:${a.id}`]);
    for (const e of events) {
      expect(e.at).toMatch(/^\d{4}-/);
      expect(e.data).toMatchObject({ source: "127.0.0.1", refusals: 1 });
      expect(String((e.data as { reason: string }).reason)).toMatch(/enrollment rate limit/);
    }
  });
});

describe("EnrollmentLimits against the real database", () => {
  it("never limits an exempt source, and audits a flood as one event per second with a count", async () => {
    const prisma = createPrisma(stack.db.url);
    try {
      const repos = createRepos(prisma);
      let now = 1_000_000;
      const limits = new EnrollmentLimits({
        repos,
        config: { perSource: { count: 1, periodMs: 60_000 }, exempt: ["10.0.0.0/8", "::1"] },
        now: () => now,
      });
      for (let i = 0; i < 5; i++) {
        await limits.admit("10.1.2.3", "t");
        await limits.admit("::1", "t");
      }
      await limits.admit("192.0.2.7", "t");
      const refused: RateLimitedError[] = [];
      for (const step of [0, 300, 300, 500]) {
        now += step;
        await limits.admit("192.0.2.7", "t").catch((e: RateLimitedError) => refused.push(e));
      }
      expect(refused.map((e) => e instanceof RateLimitedError && e.retryAfterMs)).toEqual([
        60_000, 59_700, 59_400, 58_900,
      ]);
      const rows = await repos.audit.list({ actor: "source:192.0.2.7" });
      // Newest first: the refusal at +1100 ms carries the two folded since the first.
      expect(rows.map((r) => (r.data as { refusals: number }).refusals)).toEqual([3, 1]);
    } finally {
      await prisma.$disconnect();
    }
  });
});
