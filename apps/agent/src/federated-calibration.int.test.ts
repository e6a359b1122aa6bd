// Federated calibration end to end: real agents (each with its own device credentials and a
// skewed subset of MNIST digits) over a real nats-server, a real control plane on Postgres, and
// ONNX Runtime on both sides. The devices send statistics; the control plane builds the int8
// variant and puts it in the catalogue.

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  accuracyOfLogits,
  calibrationBatches,
  createMlp,
  exportOnnx,
  loadMnistSplit,
  openVariant,
  predictAll,
  quantizeModel,
  takeSplit,
  trainClassifier,
} from "@edgefleet/compression";
import { decodeModel, encodeModel } from "@edgefleet/onnx";
import type { CalibrationRunView } from "@edgefleet/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningAgent, startAgent } from "./agent";
import type { LocalDatasetSpec } from "./calibration/local-dataset";
import { startTestStack, type TestStack, until } from "./test-stack";

let stack: TestStack;
let ws: WebSocket;
const events: Array<{ type: string; data?: Record<string, unknown> }> = [];
const agents: RunningAgent[] = [];
let modelId: string;
let int8Id: string;
let fp32: Uint8Array;
const skew: LocalDatasetSpec[] = [
  { kind: "mnist", digits: [0, 1, 2, 3] },
  { kind: "mnist", digits: [4, 5, 6] },
  { kind: "mnist", digits: [7, 8, 9] },
];

async function testAccuracy(onnx: Uint8Array): Promise<number> {
  const { test } = loadMnistSplit();
  const s = await openVariant(onnx, { disableQuantQdq: false }, 1);
  try {
    const input = { name: "input", sampleDims: [784] };
    const { data, rowSize } = await predictAll(s, input, test.x, test.n);
    return accuracyOfLogits(data, test.y, test.n, rowSize);
  } finally {
    await s.release();
  }
}

async function runToEnd(body: Record<string, unknown>): Promise<CalibrationRunView> {
  const created = await stack.api("/api/v1/calibrations", {
    method: "POST",
    body: JSON.stringify(body),
  });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  const id = created.body.id as string;
  return until(
    "calibration run ended",
    async () => {
      const r = await stack.api(`/api/v1/calibrations/${id}`);
      const view = r.body as unknown as CalibrationRunView;
      return view.state === "running" ? undefined : view;
    },
    40_000,
  );
}

beforeAll(async () => {
  stack = await startTestStack();
  ws = new WebSocket(`${stack.cp.httpUrl.replace("http", "ws")}/api/v1/stream`, {
    headers: { authorization: `Bearer ${stack.adminToken}` },
  });
  ws.on("message", (d) => events.push(JSON.parse(String(d))));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));

  const { train } = loadMnistSplit();
  const net = createMlp([784, 64, 10], 7);
  trainClassifier(net, takeSplit(train, 3000), {
    optimizer: "adam",
    lr: 0.002,
    epochs: 1,
    batchSize: 64,
    seed: 7,
  });
  fp32 = exportOnnx(net);
  const int8 = (await quantizeModel(decodeModel(fp32), { kind: "int8-dynamic" })).model;
  const m = await stack.importModel({
    name: "mnist-fed",
    variants: [
      { name: "fp32", bytes: fp32 },
      { name: "int8-dynamic", bytes: encodeModel(int8), kernelType: "int8" },
    ],
  });
  modelId = m.modelId;
  int8Id = m.variantIds.get("int8-dynamic") as string;
  const token = await stack.newEnrollmentToken(skew.length);
  for (const [i, data] of skew.entries()) {
    const dir = await stack.newDataDir();
    const agent = await startAgent(
      stack.agentConfig(dir, token, { name: `cal-${i}`, calibrationData: data }),
    );
    await agent.connected;
    agents.push(agent);
  }
}, 120_000);

afterAll(async () => {
  ws?.close();
  for (const a of agents) await a.stop().catch(() => {});
  await stack?.stop();
});

describe("federated calibration", () => {
  it("builds an int8 variant from three devices' statistics as accurate as central calibration on their union", async () => {
    const run = await runToEnd({
      modelId,
      deviceIds: agents.map((a) => a.deviceId),
      method: "percentile",
    });
    expect(run.error).toBeNull();
    expect(run.state).toBe("succeeded");
    expect(run.devices.map((d) => d.status)).toEqual(["answered", "answered", "answered"]);
    expect(run.devices.every((d) => d.round === 2)).toBe(true);
    const { calibration } = loadMnistSplit();
    // The union of the three skews is the whole calibration split.
    expect(run.samples).toBe(calibration.n);
    // Statistics only: what a device sent does not grow with how many samples it holds.
    const sent = run.devices.map((d) => d.bytesSent);
    const samples = run.devices.map((d) => d.samples);
    expect(Math.max(...samples) / Math.min(...samples)).toBeGreaterThan(1.2);
    expect(Math.max(...sent) / Math.min(...sent)).toBeLessThan(1.02);
    for (const d of run.devices) expect(d.bytesSent * 5).toBeLessThan(d.rawBytes);

    const model = await stack.api(`/api/v1/models/${modelId}`);
    const variants = model.body.variants as Array<{
      id: string;
      name: string;
      technique: string;
      accuracy: number;
      signed: boolean;
      artifactDigest: string;
      recipe: Array<{ description: string }>;
    }>;
    const fed = variants.find((v) => v.id === run.resultVariantId);
    expect(fed).toMatchObject({ technique: "int8-static", signed: true });
    expect(fed?.recipe[0].description).toBe(
      `int8 static, federated calibration over 3 devices, ${calibration.n} samples (percentile)`,
    );
    const artifact = await stack.api(`/api/v1/artifacts/${fed?.artifactDigest}`);
    expect(artifact.status).toBe(200);

    // Central calibration on the same data (the union), by the catalogue's own path.
    const central = await quantizeModel(
      decodeModel(fp32),
      { kind: "int8-static", calibration: "percentile", perChannel: true },
      { calibration: calibrationBatches(calibration, { name: "input", sampleDims: [784] }) },
    );
    const centralAccuracy = await testAccuracy(encodeModel(central.model));
    expect(Math.abs((fed?.accuracy ?? 0) - centralAccuracy)).toBeLessThanOrEqual(0.005);
    expect(fed?.accuracy).toBeGreaterThan(0.8);
    expect(run.result?.accuracy).toBe(fed?.accuracy);

    // Progress went out live on the fleet stream.
    const seen = events.filter((e) => e.type === "calibration.updated" && e.data?.id === run.id);
    expect(seen.map((e) => e.data?.phase)).toEqual(
      expect.arrayContaining(["round1", "round2", "building", "done"]),
    );
  }, 60_000);

  it("drops a device stopped mid-run and completes from the others; fails clearly below the minimum", async () => {
    const created = await stack.api("/api/v1/calibrations", {
      method: "POST",
      body: JSON.stringify({
        modelId,
        deviceIds: agents.map((a) => a.deviceId),
        method: "mse",
        minDevices: 2,
        timeoutMs: 3000,
      }),
    });
    expect(created.status).toBe(202);
    const lost = agents[2];
    await lost.stop("test: lost mid-run");
    const id = created.body.id as string;
    const run = await until(
      "run ended",
      async () => {
        const v = (await stack.api(`/api/v1/calibrations/${id}`))
          .body as unknown as CalibrationRunView;
        return v.state === "running" ? undefined : v;
      },
      40_000,
    );
    expect(run.state, run.error ?? "").toBe("succeeded");
    const dropped = run.devices.find((d) => d.deviceId === lost.deviceId);
    expect(dropped?.status).toBe("dropped");
    expect(dropped?.reason).toMatch(/^round [12]: (not connected|no reply within 3 s)/);
    expect(run.result?.devices).toBe(2);
    expect(run.devices.filter((d) => d.status === "answered")).toHaveLength(2);

    const failed = await runToEnd({
      modelId,
      deviceIds: agents.map((a) => a.deviceId),
      method: "minmax",
      minDevices: 3,
      timeoutMs: 2000,
    });
    expect(failed.state).toBe("failed");
    expect(failed.error).toBe(
      `round 1: 2 of 3 devices answered, the run needs 3 (${lost.deviceId}: round 1: not connected (no responder on its rpc subject))`,
    );
    expect(failed.resultVariantId).toBeNull();
  }, 60_000);

  it("drops a device that holds no calibration data, with its own words", async () => {
    const bare = await startAgent(
      stack.agentConfig(await stack.newDataDir(), await stack.newEnrollmentToken(), {
        name: "no-data",
      }),
    );
    await bare.connected;
    try {
      const run = await runToEnd({
        modelId,
        deviceIds: [agents[0].deviceId, bare.deviceId],
        method: "minmax",
        minDevices: 1,
      });
      expect(run.state).toBe("succeeded");
      const d = run.devices.find((x) => x.deviceId === bare.deviceId);
      expect(d?.status).toBe("dropped");
      expect(d?.reason).toBe(
        `round 1: device ${bare.deviceId}: error: this device has no calibration data (CALIBRATION_DATA)`,
      );
    } finally {
      await bare.stop();
    }
  }, 30_000);

  it("runs from the CLI: edgefleet calibrate <model> --devices ... --json", async () => {
    const bin = fileURLToPath(new URL("../../cli/bin/edgefleet.mjs", import.meta.url));
    const live = agents.slice(0, 2).map((a) => a.deviceId);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        bin,
        "calibrate",
        modelId,
        "--devices",
        live.join(","),
        "--method",
        "minmax",
        "--json",
        "--url",
        stack.cp.httpUrl,
        "--token",
        stack.adminToken,
      ],
      { env: { ...process.env, HOME: await stack.newDataDir() } },
    );
    const run = JSON.parse(stdout) as CalibrationRunView;
    expect(run.state).toBe("succeeded");
    expect(run.devices.map((d) => d.deviceId)).toEqual(live);
    expect(run.result?.variantName).toMatch(/^int8-static-minmax-fed-/);
    const failed = await promisify(execFile)(
      process.execPath,
      [
        bin,
        "calibrate",
        modelId,
        "--devices",
        "3f1c2a4e-0000-4000-8000-000000000000",
        "--url",
        stack.cp.httpUrl,
        "--token",
        stack.adminToken,
      ],
      { env: { ...process.env, HOME: await stack.newDataDir() } },
    ).catch((err: { code: number; stderr: string }) => err);
    expect("code" in failed && failed.code).toBe(1);
    expect((failed as { stderr: string }).stderr).toMatch(/deviceIds\.0.*not found/);
  }, 60_000);

  it("refuses bad input with a 400 naming the field, and writes nothing", async () => {
    const before = (await stack.api("/api/v1/calibrations")).body.items as unknown[];
    const variantsBefore = (
      (await stack.api(`/api/v1/models/${modelId}`)).body.variants as unknown[]
    ).length;
    const deviceIds = [agents[0].deviceId];
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ modelId: "3f1c2a4e-0000-4000-8000-000000000000", deviceIds }, "modelId", /not found/],
      [{ modelId: "not-a-uuid", deviceIds }, "modelId", /UUID/i],
      [
        { modelId, variantId: int8Id, deviceIds },
        "variantId",
        /int8-dynamic.*not the fp32 base model/,
      ],
      [
        { modelId, variantId: "3f1c2a4e-0000-4000-8000-000000000000", deviceIds },
        "variantId",
        /not a variant of model/,
      ],
      [{ modelId, deviceIds: [] }, "deviceIds", /at least one device/],
      [
        { modelId, deviceIds: ["3f1c2a4e-0000-4000-8000-000000000000"] },
        "deviceIds.0",
        /not found/,
      ],
      [{ modelId, deviceIds: [deviceIds[0], deviceIds[0]] }, "deviceIds.1", /appears twice/],
      [{ modelId, deviceIds, method: "kl" }, "method", /./],
      [{ modelId, deviceIds, minDevices: 2 }, "minDevices", /more than the 1 devices/],
      [{ modelId, deviceIds, method: "mse", bins: 3 }, "bins", /./],
    ];
    for (const [body, field, message] of cases) {
      const r = await stack.api("/api/v1/calibrations", {
        method: "POST",
        body: JSON.stringify(body),
      });
      expect(r.status, JSON.stringify(body)).toBe(400);
      const error = r.body.error as { field: string; message: string };
      expect(error.field, JSON.stringify(r.body)).toBe(field);
      expect(error.message).toMatch(message);
    }
    const viewer = await stack.apiToken("viewer");
    const denied = await stack.api("/api/v1/calibrations", {
      method: "POST",
      token: viewer,
      body: JSON.stringify({ modelId, deviceIds }),
    });
    expect(denied.status).toBe(403);
    expect((await stack.api("/api/v1/calibrations")).body.items).toHaveLength(before.length);
    expect(((await stack.api(`/api/v1/models/${modelId}`)).body.variants as unknown[]).length).toBe(
      variantsBefore,
    );
    expect(
      (await stack.api("/api/v1/calibrations/3f1c2a4e-0000-4000-8000-000000000000")).status,
    ).toBe(404);
  });
});
