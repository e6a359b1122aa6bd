// What the web console needs from the control plane, against real Postgres, nats-server and HTTP:
// who a token is (/me), the stream authenticated by subprotocol (never by URL), device filters
// done by the database, and the built console served at `/` (or a page saying how to build it).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FleetEvent } from "@edgefleet/protocol";
import { until } from "@edgefleet/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestControlPlane, type TestControlPlane } from "./testing";

let stack: TestControlPlane;
let consoleDir: string;

beforeAll(async () => {
  consoleDir = await mkdtemp(join(tmpdir(), "ef-console-"));
  await mkdir(join(consoleDir, "assets"));
  await writeFile(join(consoleDir, "index.html"), "<!doctype html><title>console</title>");
  await writeFile(join(consoleDir, "assets", "index-abc123.js"), "console.log(1)");
  await writeFile(join(consoleDir, "favicon.svg"), "<svg/>");
  stack = await startTestControlPlane({ consoleDir });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await rm(consoleDir, { recursive: true, force: true });
});

describe("GET /api/v1/me", () => {
  it.each(["admin", "operator", "viewer"] as const)("names the %s role", async (role) => {
    const token = role === "admin" ? stack.adminToken : await stack.apiToken(role);
    const res = await stack.api("/api/v1/me", { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tokenId: expect.any(String), role });
  });

  it("401s without a valid token", async () => {
    expect((await stack.api("/api/v1/me", { token: "" })).status).toBe(401);
    expect((await stack.api("/api/v1/me", { token: "nope" })).status).toBe(401);
  });
});

describe("the stream's authentication", () => {
  const url = () => `${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`;
  const opened = (ws: WebSocket) =>
    new Promise<number>((resolve) => {
      ws.once("open", () => resolve(101));
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("error", () => resolve(-1));
    });

  it("takes the token as a subprotocol and answers edgefleet.v1, not the token", async () => {
    const viewer = await stack.apiToken("viewer");
    const ws = new WebSocket(url(), ["edgefleet.v1", `edgefleet.bearer.${viewer}`]);
    const events: FleetEvent[] = [];
    ws.on("message", (data) => events.push(JSON.parse(String(data))));
    expect(await opened(ws)).toBe(101);
    expect(ws.protocol).toBe("edgefleet.v1");
    const { deviceId } = await stack.enrollDevice("live-one");
    await until("enrolled event", async () =>
      events.find((e) => e.type === "device.enrolled" && e.deviceId === deviceId),
    );
    ws.close();
  });

  it("still takes the Authorization header", async () => {
    const ws = new WebSocket(url(), { headers: { authorization: `Bearer ${stack.adminToken}` } });
    expect(await opened(ws)).toBe(101);
    ws.close();
  });

  it("refuses a token in the URL, a bad subprotocol token, and none", async () => {
    const inUrl = new WebSocket(`${url()}?access_token=${stack.adminToken}`);
    expect(await opened(inUrl)).toBe(401);
    const bad = new WebSocket(url(), ["edgefleet.v1", "edgefleet.bearer.wrong"]);
    expect(await opened(bad)).toBe(401);
    expect(await opened(new WebSocket(url()))).toBe(401);
  });
});

describe("GET /api/v1/devices filters", () => {
  it("filters by class, labels and status in the query, with clear errors", async () => {
    await stack.enrollDevice("pi-lab", { deviceClass: "rpi4", labels: { site: "lab", tier: "a" } });
    await stack.enrollDevice("pi-shop", { deviceClass: "rpi4", labels: { site: "shop" } });
    const names = async (qs: string) => {
      const res = await stack.api(`/api/v1/devices?${qs}`);
      expect(res.status).toBe(200);
      return (res.body.items as { name: string }[]).map((d) => d.name).sort();
    };
    expect(await names("deviceClass=rpi4")).toEqual(["pi-lab", "pi-shop"]);
    expect(await names("deviceClass=rpi4&label=site%3Dlab")).toEqual(["pi-lab"]);
    expect(await names("label=site%3Dlab&label=tier%3Da")).toEqual(["pi-lab"]);
    expect(await names("label=site%3Dmoon")).toEqual([]);

    const bad = await stack.api("/api/v1/devices?label=site");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ field: "label", message: expect.stringMatching(/=/) });
    const badVariant = await stack.api("/api/v1/devices?variantId=x");
    expect(badVariant.status).toBe(400);
    expect((badVariant.body.error as { field: string }).field).toBe("variantId");
  });
});

describe("the console at /", () => {
  const get = (path: string) => fetch(`${stack.cp.httpUrl}${path}`);

  it("serves index.html uncached, for / and for deep links", async () => {
    for (const path of ["/", "/fleet", "/devices/abc"]) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(await res.text()).toContain("<title>console</title>");
    }
  });

  it("caches hashed assets for good, and 404s a missing one (never index.html)", async () => {
    const res = await get("/assets/index-abc123.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toMatch(/max-age=31536000.*immutable/);
    const missing = await get("/assets/index-old.js");
    expect(missing.status).toBe(404);
    expect(await missing.text()).not.toContain("<title>");
    expect((await get("/favicon.svg")).headers.get("cache-control")).toBe("no-cache");
  });

  it("leaves the API, /metrics and /healthz alone", async () => {
    const api = await get("/api/v1/nothing-here");
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: { code: "not_found" } });
    expect((await get("/metrics")).headers.get("content-type")).toContain("text/plain");
    expect((await get("/healthz")).status).toBe(200);
  });

  it("says how to build it when it is not built", async () => {
    await rm(join(consoleDir, "index.html"));
    const res = await get("/");
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("npm run build -w @edgefleet/console");
  });
});
