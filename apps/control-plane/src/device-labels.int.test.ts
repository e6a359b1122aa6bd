// PATCH /api/v1/devices/:id/labels against the real control plane, Postgres and NATS: labels
// set and removed in one statement, audited, announced on the stream; bad input changes nothing.
import { createPrisma, PrismaApiTokenRepo, PrismaAuditRepo } from "@edgefleet/db";
import type { FleetEvent } from "@edgefleet/protocol";
import type { DeviceDetailView } from "@edgefleet/protocol/rest";
import { until } from "@edgefleet/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestControlPlane, type TestControlPlane } from "./testing";

let stack: TestControlPlane;
let prisma: ReturnType<typeof createPrisma>;
let deviceId: string;
let viewerToken: string;
let ws: WebSocket;
const events: FleetEvent[] = [];

const patch = (body: unknown, token = stack.adminToken, id = deviceId) =>
  stack.api(`/api/v1/devices/${id}/labels`, {
    method: "PATCH",
    token,
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const labelsNow = async () =>
  ((await stack.api(`/api/v1/devices/${deviceId}`)).body as unknown as DeviceDetailView).labels;
const auditRows = () =>
  new PrismaAuditRepo(prisma).list({ subjectType: "device", subjectId: deviceId });

beforeAll(async () => {
  stack = await startTestControlPlane();
  prisma = createPrisma(stack.db.url);
  viewerToken = (await new PrismaApiTokenRepo(prisma).create({ name: "viewer", role: "viewer" }))
    .secret;
  ({ deviceId } = await stack.enrollDevice("labelled", { labels: { site: "lab", rack: "2" } }));
  ws = new WebSocket(`${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
  });
  ws.on("message", (d) => events.push(JSON.parse(String(d))));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
}, 30_000);

afterAll(async () => {
  ws?.close();
  await prisma?.$disconnect();
  await stack?.stop();
});

describe("PATCH /api/v1/devices/:id/labels", () => {
  it("sets and removes labels, keeps the others, audits and announces the change", async () => {
    const res = await patch({ set: { tier: "canary", site: "edge-1" }, remove: ["rack"] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: deviceId, labels: { site: "edge-1", tier: "canary" } });
    expect(res.body.labels).not.toHaveProperty("rack");
    expect(await labelsNow()).toEqual({ site: "edge-1", tier: "canary" });
    const [row] = await auditRows();
    expect(row).toMatchObject({
      action: "device.labels_changed",
      data: { set: { tier: "canary", site: "edge-1" }, remove: ["rack"] },
    });
    expect(row.actor).toMatch(/^apitoken:/);
    await until("the device.updated event", async () =>
      events.find(
        (e) =>
          e.type === "device.updated" &&
          e.deviceId === deviceId &&
          (e.device?.labels as Record<string, string>)?.tier === "canary",
      ),
    );
  });

  it("keeps concurrent patches of different keys (one statement each, no lost update)", async () => {
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    const answers = await Promise.all(keys.map((k) => patch({ set: { [k]: "v" } })));
    expect(answers.map((a) => a.status)).toEqual(keys.map(() => 200));
    expect(await labelsNow()).toMatchObject(Object.fromEntries(keys.map((k) => [k, "v"])));
    const cleared = await patch({ remove: keys });
    expect(Object.keys(cleared.body.labels as object).sort()).toEqual(["site", "tier"]);
  });

  it.each([
    ["a key with a space", { set: { "a b": "x" } }, 400, "set.a b", /without '='/],
    ["a key with =", { set: { "a=b": "x" } }, 400, "set.a=b", /without '='/],
    ["a value that is not a string", { set: { tier: 3 } }, 400, "set.tier", /expected string/],
    ["a value too long", { set: { tier: "x".repeat(257) } }, 400, "set.tier", /256/],
    ["remove that is not a list", { remove: "site" }, 400, "remove", /expected array/],
    ["a key both set and removed", { set: { site: "x" }, remove: ["site"] }, 400, "remove", /both/],
    ["nothing to do", {}, 400, "set", /at least one label/],
    ["an unknown field", { labels: { a: "b" } }, 400, "(body)", /Unrecognized key/],
    ["a body that is not JSON", "{nope", 400, "(body)", /not valid JSON/],
  ])("refuses %s, naming the field, and changes nothing", async (_, body, status, field, msg) => {
    const before = await labelsNow();
    const audited = (await auditRows()).length;
    const res = await patch(body);
    expect(res.status).toBe(status);
    const error = res.body.error as { field?: string; message: string };
    expect(error.field).toBe(field);
    expect(error.message).toMatch(msg);
    expect(await labelsNow()).toEqual(before);
    expect(await auditRows()).toHaveLength(audited);
  });

  it("needs the operator role", async () => {
    const before = await labelsNow();
    const res = await patch({ set: { tier: "prod" } }, viewerToken);
    expect(res.status).toBe(403);
    expect(await labelsNow()).toEqual(before);
  });

  it("answers 404 for a device that does not exist", async () => {
    const res = await patch({ set: { tier: "x" } }, stack.adminToken, crypto.randomUUID());
    expect(res.status).toBe(404);
  });
});
