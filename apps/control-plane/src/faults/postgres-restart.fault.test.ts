// Fault: PostgreSQL restarted (fast, then immediate) under load: telemetry ingest, API reads,
// model imports in flight. The control plane runs against a PRIVATE server (never the shared one
// on 5432) and must survive, say so on /healthz, reconnect by itself, leave no half-written
// import and fold every telemetry message exactly once.
import { randomBytes } from "node:crypto";
import { createPrisma, type PrismaClient } from "@edgefleet/db";
import { type PrivatePostgres, startPrivatePostgres, until } from "@edgefleet/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestControlPlane, type TestControlPlane } from "../testing";
import { foldedRequests, publishTelemetry } from "../testing-telemetry";

let pg: PrivatePostgres;
let stack: TestControlPlane;
let prisma: PrismaClient;
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  pg = await startPrivatePostgres();
  const databaseUrl = await pg.createDatabase("edgefleet");
  stack = await startTestControlPlane({ databaseUrl });
  prisma = createPrisma(databaseUrl);
}, 120_000);

afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  await prisma?.$disconnect();
  await stack?.stop();
  await pg?.destroy();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it("survives fast and immediate restarts of PostgreSQL under load", async () => {
  const { variantIds } = await stack.importModel({
    name: "served",
    variants: [{ name: "fp32", bytes: randomBytes(500) }],
  });
  const variantId = variantIds.get("fp32")!;
  const devices: Array<{ deviceId: string; nc: NatsConnection }> = [];
  for (let i = 0; i < 3; i++) devices.push(await stack.enrollDevice(`pg-fault-${i}`));

  let running = true;
  // Telemetry: each device publishes a message every ~50 ms (JetStream holds them while the
  // database is away).
  const publishers = publishTelemetry(devices, variantId);
  const { sent } = publishers;
  // API reads and health probes: every answer is recorded; none may hang or kill the process.
  const health: Array<{ status: number; database: boolean }> = [];
  const reads: number[] = [];
  const prober = (async () => {
    while (running) {
      const h = await stack.api("/healthz", { token: "" });
      health.push({
        status: h.status,
        database: (h.body.checks as { database: boolean }).database,
      });
      reads.push((await stack.api("/api/v1/devices")).status);
      await sleep(100);
    }
  })();
  // Model imports in flight (one transaction each): each must have happened fully or not at all.
  const imports: Array<{ name: string; status: number }> = [];
  const importer = (async () => {
    let i = 0;
    while (running) {
      const name = `import-${i++}`;
      const status = await stack
        .importModel({
          name,
          variants: [
            { name: "a", bytes: randomBytes(300) },
            { name: "b", bytes: randomBytes(300) },
            { name: "c", bytes: randomBytes(300) },
          ],
        })
        .then(
          () => 201,
          (err: Error) => Number(/HTTP (\d+)/.exec(err.message)?.[1] ?? 0),
        );
      imports.push({ name, status });
    }
  })();

  for (const mode of ["fast", "immediate"] as const) {
    await sleep(1_500);
    const before = health.length;
    await pg.stopServer(mode);
    await until(
      `/healthz reports the database down (${mode})`,
      async () => health.slice(before).some((h) => h.status === 503 && !h.database) || undefined,
    );
    await sleep(1_000);
    await pg.startServer();
    const restarted = health.length;
    await until(
      `/healthz ok again after the ${mode} restart`,
      async () => health.slice(restarted).some((h) => h.status === 200 && h.database) || undefined,
      20_000,
    );
  }
  await sleep(1_000);
  running = false;
  await Promise.all([publishers.stop(), prober, importer]);

  // Every message folded exactly once: the rollups' request counts equal what was sent.
  const folded = (deviceId: string) => foldedRequests(prisma, deviceId);
  await until(
    "every message folded",
    async () => {
      for (const { deviceId } of devices) {
        if ((await folded(deviceId)) < (sent.get(deviceId) ?? 0)) return undefined;
      }
      return true;
    },
    30_000,
  ).catch(() => {}); // the equality below names what is missing
  await sleep(2_500); // redeliveries (nak delay 2 s) would land here
  for (const { deviceId } of devices) {
    expect({ deviceId, folded: await folded(deviceId) }).toEqual({
      deviceId,
      folded: sent.get(deviceId),
    });
  }

  // Nothing half written: an import that answered 201 is whole; any other is whole or absent.
  expect(imports.length).toBeGreaterThan(2);
  expect(imports.some((i) => i.status !== 201)).toBe(true); // some really hit the outage
  for (const { name, status } of imports) {
    const models = await prisma.model.findMany({ where: { name }, select: { id: true } });
    const variants = await prisma.variant.count({
      where: { modelId: { in: models.map((m) => m.id) } },
    });
    if (status === 201)
      expect({ name, models: models.length, variants }).toEqual({ name, models: 1, variants: 3 });
    else expect([0, 3]).toContain(variants);
    expect(models.length).toBeLessThanOrEqual(1);
  }
  // The API answered throughout: errors while the database was away, 200 after.
  expect(reads.some((s) => s >= 500)).toBe(true);
  expect(reads.at(-1)).toBe(200);
  expect(unhandled).toEqual([]);
}, 120_000);
