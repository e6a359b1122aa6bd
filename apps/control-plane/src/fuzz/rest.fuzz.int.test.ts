// Fuzz (issue 11): every REST route with arbitrary JSON, wrong types, huge strings, bad
// percent-encoding, bad content types and oversized bodies. Never a 5xx or a stack trace; a 400
// names the field; a rejected request changes no row.
import { createPrisma, type PrismaClient } from "@edgefleet/db";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestControlPlane, type TestControlPlane } from "../testing";
import { badText, fuzzParams, tableCounts } from "./fuzz-kit";

/** Tables whose row count differs from `before`, with both counts. */
async function changedTables(prisma: PrismaClient, before: Record<string, number>) {
  const after = await tableCounts(prisma);
  return Object.keys(after)
    .filter((k) => after[k] !== before[k])
    .map((k) => `${k}: ${before[k]} -> ${after[k]}`);
}

const ID = "00000000-0000-4000-8000-00000000aaaa";
/** Every route of http/app.ts and jobs/job-routes.ts that takes a body or an id. */
const ROUTES: Array<[method: string, path: string]> = [
  ["POST", "/api/v1/enrollment-tokens"],
  ["POST", "/api/v1/api-tokens"],
  ["POST", `/api/v1/api-tokens/${ID}/revoke`],
  ["GET", "/api/v1/audit"],
  ["GET", "/api/v1/devices"],
  ["GET", `/api/v1/devices/${ID}`],
  ["PATCH", `/api/v1/devices/${ID}/labels`],
  ["POST", `/api/v1/devices/${ID}/decommission`],
  ["GET", `/api/v1/devices/${ID}/profile`],
  ["POST", `/api/v1/devices/${ID}/reprofile`],
  ["POST", `/api/v1/devices/${ID}/latency-measurements`],
  ["GET", `/api/v1/devices/${ID}/assignment`],
  ["PUT", `/api/v1/devices/${ID}/assignment`],
  ["GET", `/api/v1/devices/${ID}/telemetry`],
  ["GET", `/api/v1/artifacts/${"a".repeat(64)}`],
  ["GET", `/api/v1/devices/${ID}/retargets`],
  ["POST", "/api/v1/rollouts"],
  ["GET", `/api/v1/rollouts/${ID}`],
  ["GET", `/api/v1/rollouts/${ID}/targets`],
  ["POST", `/api/v1/rollouts/${ID}/start`],
  ["POST", `/api/v1/rollouts/${ID}/abort`],
  ["POST", "/api/v1/models"],
  ["GET", `/api/v1/models/${ID}`],
  ["POST", "/api/v1/pipelines"],
  ["GET", `/api/v1/pipelines/${ID}`],
  ["POST", `/api/v1/pipelines/${ID}/infer`],
  ["POST", `/api/v1/pipelines/${ID}/stop`],
  ["POST", "/api/v1/plans"],
  ["POST", "/api/v1/jobs"],
  ["POST", "/api/v1/calibrations"],
];

const body = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .dictionary(
      fc.constantFrom(
        "name",
        "role",
        "maxUses",
        "labels",
        "variantId",
        "modelId",
        "selector",
        "expiresInSeconds",
        "waves",
        "devices",
        "input",
      ),
      fc.oneof(badText, fc.constantFrom("-1", "1e999", "null", "[]", "{}", '{"a":[[[[1]]]]}')),
    )
    .map(
      (d) =>
        `{${Object.entries(d)
          .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
          .join(",")}}`,
    ),
  fc.string({ maxLength: 40 }), // mostly not JSON
);
const query = fc.oneof(
  fc.constant(""),
  fc.constantFrom(
    "?limit=-1",
    "?limit=abc",
    "?minutes=1e999",
    "?cursor=%ZZ",
    "?status[]=x",
    "?label=%00",
  ),
);

describe("fuzz: REST", { timeout: 150_000 }, () => {
  let t: TestControlPlane;
  let prisma: PrismaClient;
  let tried = 0;

  beforeAll(async () => {
    t = await startTestControlPlane();
    prisma = createPrisma(t.db.url);
  });
  afterAll(async () => {
    console.log(`fuzz inputs tried (REST): ${tried}`);
    await prisma?.$disconnect();
    await t?.stop();
  });

  const send = async (method: string, path: string, text?: string, type = "application/json") => {
    tried += 1;
    const res = await fetch(`${t.cp.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${t.adminToken}`, "content-type": type },
      ...(text !== undefined && method !== "GET" ? { body: text } : {}),
    });
    const raw = await res.text();
    return { status: res.status, raw };
  };

  /** < 500, a JSON error naming its code (and field, for a 400), no stack trace. */
  const expectClientError = (r: { status: number; raw: string }, what: string) => {
    expect(r.status, what).toBeLessThan(500);
    expect(r.raw, what).not.toMatch(/\bat .+:\d+:\d+|node_modules/);
    if (r.status < 400) return;
    const parsed = JSON.parse(r.raw) as {
      error: { code: string; message: string; field?: string };
    };
    expect(typeof parsed.error.code, what).toBe("string");
    expect(typeof parsed.error.message, what).toBe("string");
    if (r.status === 400) expect(parsed.error.message, what).toMatch(/^\S+: /);
  };

  it("every route: arbitrary bodies and queries give a clear 4xx and change nothing", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), body, query, async ([method, path], text, q) => {
        // Counted around each request: an input that is valid by chance (a 2xx) may add rows.
        const before = await tableCounts(prisma);
        const r = await send(method, `${path}${q}`, text);
        expectClientError(r, `${method} ${path}${q} ${text.slice(0, 200)}`);
        if (r.status >= 400) {
          expect(await changedTables(prisma, before), `${method} ${path} -> ${r.status}`).toEqual(
            [],
          );
        }
      }),
      fuzzParams(150),
    );
  });

  it("bad percent-encoding, content types and oversized bodies", async () => {
    const before = await tableCounts(prisma);
    for (const path of [
      "/api/v1/devices/%E0%A4%A",
      "/api/v1/models/%",
      "/api/v1/rollouts/%ZZ/start",
    ]) {
      const r = await send("GET", path);
      expectClientError(r, path);
      expect(r.status, path).toBe(400);
    }
    for (const type of [
      "text/plain",
      "application/xml",
      "multipart/form-data; boundary=x",
      "garbage",
    ]) {
      const r = await send("POST", "/api/v1/enrollment-tokens", '{"label":"x"}', type);
      expect(r.status).toBe(415);
      expectClientError(r, type);
    }
    const big = await send(
      "POST",
      "/api/v1/models",
      JSON.stringify({ name: "x".repeat(1_100_000) }),
    );
    expect(big.status).toBe(413);
    expect(JSON.parse(big.raw).error.code).toBe("payload_too_large");
    expect(await changedTables(prisma, before)).toEqual([]);
  });
});
