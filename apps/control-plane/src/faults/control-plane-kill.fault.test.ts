// Issue 11: the control plane SIGKILLed mid-ingest and mid-rollout, as its own OS process. The
// restarted process (or a second replica already running) resumes: telemetry waits in JetStream
// and is folded exactly once, and the rollout completes with every device applied.
import { randomBytes } from "node:crypto";
import { createPrisma, type PrismaClient } from "@edgefleet/db";
import { until } from "@edgefleet/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScriptedDevice } from "../scripted-device";
import { startTestControlPlane, type TestControlPlane } from "../testing";
import { type ControlPlaneProcess, startControlPlaneProcess } from "../testing-process";
import { foldedRequests, publishTelemetry } from "../testing-telemetry";

const ACK_WAIT_MS = 2_000;
let stack: TestControlPlane;
let prisma: PrismaClient;
let modelId: string;
let variantId: string;
const ingestFleets = new Map<string, Array<{ deviceId: string; nc: NatsConnection }>>();
const rolloutFleets = new Map<string, ScriptedDevice[]>();
const running = new Set<ControlPlaneProcess>();

beforeAll(async () => {
  stack = await startTestControlPlane({
    telemetryBatch: { maxWaitMs: 50, ackWaitMs: ACK_WAIT_MS },
    controllers: { tickMs: 200, leaseTtlMs: 1_500 },
  });
  prisma = createPrisma(stack.db.url);
  const m = await stack.importModel({
    name: "served",
    variants: [
      { name: "fp32", bytes: randomBytes(400), accuracy: 0.95 },
      { name: "int8", bytes: randomBytes(200), accuracy: 0.94, kernelType: "int8" },
    ],
  });
  modelId = m.modelId;
  variantId = m.variantIds.get("fp32")!;
  // Enrolled while the fixture's in-process control plane runs; then it steps aside, so only
  // the child processes fold and run controllers.
  for (const tag of ["ingest-restart", "ingest-replica"]) {
    const devices = [];
    for (let i = 0; i < 3; i++) devices.push(await stack.enrollDevice(`${tag}-${i}`));
    ingestFleets.set(tag, devices);
  }
  for (const tag of ["rollout-restart", "rollout-replica"]) {
    const devices = [];
    for (let i = 0; i < 4; i++) {
      const d = await stack.enrollDevice(`${tag}-${i}`, {
        deviceClass: "x86-gateway",
        labels: { fleet: tag },
      });
      devices.push(new ScriptedDevice(d.deviceId, d.nc));
    }
    rolloutFleets.set(tag, devices);
  }
  await stack.cp.stop();
}, 120_000);

afterAll(async () => {
  for (const p of running) await p.kill();
  await prisma?.$disconnect();
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function controlPlane(name: string): Promise<ControlPlaneProcess> {
  const p = await startControlPlaneProcess(stack.config, { name });
  running.add(p);
  return p;
}
async function sigkill(p: ControlPlaneProcess): Promise<void> {
  await p.kill("SIGKILL");
  running.delete(p);
  expect((await p.process.exited).signal).toBe("SIGKILL");
}

describe("killed mid-ingest", () => {
  it.each([
    { tag: "ingest-restart", replica: false },
    { tag: "ingest-replica", replica: true },
  ])(
    "$tag: every message folded exactly once",
    async ({ tag, replica }) => {
      const devices = ingestFleets.get(tag)!;
      const first = await controlPlane(`${tag}-first`);
      const second = replica ? await controlPlane(`${tag}-second`) : undefined;
      const publishers = publishTelemetry(devices, variantId, 20);
      await until("telemetry folding", async () => {
        for (const d of devices) if ((await foldedRequests(prisma, d.deviceId)) === 0) return;
        return true;
      });
      await sleep(700);
      await sigkill(first); // batches in flight: delivered, maybe folded, never acknowledged
      const survivor = second ?? (await controlPlane(`${tag}-restarted`));
      await sleep(1_500);
      await publishers.stop();
      const { sent } = publishers;
      const folded = async () =>
        Object.fromEntries(
          await Promise.all(
            devices.map(async (d) => [d.deviceId, await foldedRequests(prisma, d.deviceId)]),
          ),
        );
      const expected = Object.fromEntries(devices.map((d) => [d.deviceId, sent.get(d.deviceId)]));
      await until(
        "every message folded",
        async () =>
          JSON.stringify(await folded()) === JSON.stringify(expected) ? true : undefined,
        20_000,
      ).catch(() => {}); // the equality below names what is missing
      await sleep(ACK_WAIT_MS + 1_000); // redeliveries of what the dead one held would land here
      expect(await folded()).toEqual(expected);
      const messages = [...publishers.messages.values()].reduce((a, b) => a + b, 0);
      console.log(
        `${tag}: ${messages} messages from ${devices.length} devices, folded exactly once`,
      );
      await survivor.kill("SIGTERM");
      running.delete(survivor);
    },
    90_000,
  );
});
