// Issue 11: every mutation is in the audit log. Walks every POST/PUT/PATCH/DELETE route the
// express app registers (so a new route cannot be forgotten: it fails here until it is covered
// or excused), calls each successfully against the real control plane, and asserts that the call
// wrote an AuditEvent naming who (the calling token), what and when.
import { randomBytes } from "node:crypto";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import { subjects } from "@edgefleet/protocol";
import type { AuditEventView, AuditPage } from "@edgefleet/protocol/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpApp, type HttpDeps } from "./http/app";
import { startTestControlPlane, type TestControlPlane } from "./testing";

/** Mutating routes with no successful call here, and why. */
const EXCUSED: Record<string, string> = {
  "POST /api/v1/pipelines":
    "needs devices that answer link probes and load ONNX stages (pipelines int tests); audited as pipeline.created",
  "POST /api/v1/pipelines/:id/infer":
    "an inference request through a running pipeline: changes no state",
  "POST /api/v1/pipelines/:id/stop":
    "needs a running pipeline (see above); audited as pipeline.stopped",
  "POST /api/v1/devices/:id/latency-measurements":
    "needs a device running ONNX Runtime to measure; audited as device.latency_measured",
};

/** Every mutating route of the app, as "METHOD /path", from the express router itself. */
function mutatingRoutes(): string[] {
  const app = createHttpApp({ calibrations: {} } as unknown as HttpDeps);
  const stack = (app as unknown as { router: { stack: RouteLayer[] } }).router.stack;
  const out = new Set<string>();
  for (const layer of stack) {
    if (!layer.route) continue;
    for (const method of Object.keys(layer.route.methods)) {
      if (["post", "put", "patch", "delete"].includes(method)) {
        out.add(`${method.toUpperCase()} ${layer.route.path}`);
      }
    }
  }
  return [...out].sort();
}
type RouteLayer = { route?: { path: string; methods: Record<string, boolean> } };

let stack: TestControlPlane;
let actor: string;

beforeAll(async () => {
  // No controllers: rollouts stay where the API puts them.
  stack = await startTestControlPlane({ controllers: { enabled: false } });
  actor = `apitoken:${((await stack.api("/api/v1/me")).body as { tokenId: string }).tokenId}`;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

async function newestAuditId(): Promise<bigint> {
  const page = (await stack.api("/api/v1/audit?limit=1")).body as unknown as AuditPage;
  return BigInt(page.items[0]?.id ?? 0);
}

async function auditSince(id: bigint): Promise<AuditEventView[]> {
  const page = (await stack.api("/api/v1/audit?limit=100")).body as unknown as AuditPage;
  return page.items.filter((e) => BigInt(e.id) > id);
}

const json = (method: string, path: string, body?: unknown) =>
  stack.api(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

describe("audit coverage of the REST API", () => {
  it("every mutating route writes an AuditEvent with actor, action and time", async () => {
    const { modelId, variantIds } = await stack.importModel({
      name: "audited",
      variants: [{ name: "fp32", bytes: exportOnnx(createMlp([784, 8, 10], 1)) }],
    });
    const variantId = variantIds.get("fp32") ?? "";
    const device = await stack.enrollDevice("audited-1");
    const retired = await stack.enrollDevice("audited-2");
    // The device answers a profile request as an agent would.
    device.nc.subscribe(subjects.rpc(device.deviceId, "profile"), {
      callback: (_err, msg) => {
        msg.respond(new TextEncoder().encode(JSON.stringify({ accepted: true })));
      },
    });
    await device.nc.flush();
    const ids: Record<string, string> = {};

    // In order: later calls use what earlier ones made. Each returns the HTTP status.
    const calls: Record<string, () => Promise<number>> = {
      "POST /api/v1/enrollment-tokens": async () =>
        (await json("POST", "/api/v1/enrollment-tokens", { label: "audited" })).status,
      "POST /api/v1/api-tokens": async () => {
        const res = await json("POST", "/api/v1/api-tokens", { name: "audited", role: "viewer" });
        ids.apiToken = String(res.body.id);
        return res.status;
      },
      "POST /api/v1/api-tokens/:id/revoke": async () =>
        (await json("POST", `/api/v1/api-tokens/${ids.apiToken}/revoke`)).status,
      "PUT /api/v1/artifacts/:sha256": async () => {
        await stack.upload(randomBytes(64));
        return 201;
      },
      "POST /api/v1/models": async () => {
        await stack.importModel({
          name: "audited-2",
          variants: [{ name: "fp32", bytes: randomBytes(90) }],
        });
        return 201;
      },
      "PATCH /api/v1/devices/:id/labels": async () =>
        (await json("PATCH", `/api/v1/devices/${device.deviceId}/labels`, { set: { pool: "a" } }))
          .status,
      "POST /api/v1/devices/:id/reprofile": async () =>
        (await json("POST", `/api/v1/devices/${device.deviceId}/reprofile`)).status,
      "PUT /api/v1/devices/:id/assignment": async () =>
        (await json("PUT", `/api/v1/devices/${device.deviceId}/assignment`, { variantId })).status,
      "POST /api/v1/plans": async () =>
        (
          await json("POST", "/api/v1/plans", {
            modelId,
            selector: { deviceIds: [device.deviceId] },
            policy: { latencySloMs: 50 },
          })
        ).status,
      "POST /api/v1/rollouts": async () => {
        const res = await json("POST", "/api/v1/rollouts", {
          modelId,
          selector: { labels: { fleet: "nobody" } },
          policy: { latencySloMs: 50 },
        });
        ids.rollout = String(res.body.id);
        return res.status;
      },
      ...Object.fromEntries(
        ["start", "pause", "resume", "abort", "rollback"].map((action) => [
          `POST /api/v1/rollouts/:id/${action}`,
          async () => (await json("POST", `/api/v1/rollouts/${ids.rollout}/${action}`, {})).status,
        ]),
      ),
      "POST /api/v1/jobs": async () => {
        const res = await json("POST", "/api/v1/jobs", {
          variantId,
          dataset: "mnist",
          shardSize: 100,
          limit: 200,
          selector: { deviceIds: [device.deviceId] },
        });
        ids.job = String(res.body.id);
        return res.status;
      },
      "POST /api/v1/jobs/:id/cancel": async () =>
        (await json("POST", `/api/v1/jobs/${ids.job}/cancel`, { reason: "audited" })).status,
      "POST /api/v1/calibrations": async () =>
        (
          await json("POST", "/api/v1/calibrations", {
            modelId,
            deviceIds: [device.deviceId],
            timeoutMs: 1000,
          })
        ).status,
      "POST /api/v1/devices/:id/decommission": async () =>
        (await json("POST", `/api/v1/devices/${retired.deviceId}/decommission`)).status,
    };

    const routes = mutatingRoutes();
    const unaccounted = routes.filter((r) => !(r in calls) && !(r in EXCUSED));
    expect(unaccounted, "mutating routes with neither a call nor an excuse").toEqual([]);
    const stale = [...Object.keys(calls), ...Object.keys(EXCUSED)].filter(
      (r) => !routes.includes(r),
    );
    expect(stale, "covered routes the app no longer has").toEqual([]);

    const unaudited: string[] = [];
    for (const [route, call] of Object.entries(calls)) {
      const before = await newestAuditId();
      const started = Date.now();
      const code = await call();
      expect(code, route).toBeLessThan(300);
      const events = (await auditSince(before)).filter((e) => e.actor === actor);
      const event = events[0];
      if (!event) {
        unaudited.push(route);
        continue;
      }
      expect(event.action, route).toMatch(/^[a-z_]+\.[a-z_]+$/);
      expect(Date.parse(event.at), route).toBeGreaterThanOrEqual(started - 1000);
      expect(Date.parse(event.at), route).toBeLessThanOrEqual(Date.now() + 1000);
    }
    expect(unaudited, "routes whose successful call wrote no AuditEvent").toEqual([]);
  }, 120_000);
});
