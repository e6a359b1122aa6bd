import { type Telemetry, telemetrySchema } from "@edgefleet/protocol";
import { LatencySketch } from "@edgefleet/telemetry";
import { describe, expect, it } from "vitest";
import { DeviceTelemetry, type ServingInfo } from "./device-telemetry";
import { SimulationModel } from "./model";
import { Random } from "./random";

const serving: ServingInfo = {
  variantId: "7f1d5a34-5a3c-4a8e-9c7e-0d5a1f0c9b11",
  variantName: "fp32",
  kernelType: "fp32",
  generation: 3,
  memoryBytes: 2 ** 20,
  shadowSampleRate: null,
};

// A virtual clock: `tick()` moves it 20 ms, so windows hold the same simulated time however
// loaded the machine running the test is.
let clock = Date.parse("2026-12-01T12:00:00Z");
const tick = () => {
  clock += 20;
};

function telemetry(s: ServingInfo | null = serving, fail = false) {
  const sent: { msg: Telemetry; id: string }[] = [];
  const t = new DeviceTelemetry({
    now: () => clock,
    deviceId: "dev-1",
    deviceClass: "rpi4",
    epoch: 4,
    model: new SimulationModel({
      requestsPerSecond: 10_000, // ~200 requests in the 20 ms a test window lasts
      latencySpread: 0.05,
      variants: [{ match: "fp32", baseLatencyMs: 0.5, canaryAccuracy: 1, agreement: 0.75 }],
    }),
    random: new Random(9),
    serving: () => s,
    publish: async (data, id) => {
      if (fail) throw new Error("no ack");
      sent.push({ msg: telemetrySchema.parse(JSON.parse(Buffer.from(data).toString())), id });
    },
  });
  return { t, sent };
}

const median = (m: Telemetry) => LatencySketch.fromSummary(m.latency!).quantile(0.5)!;

describe("DeviceTelemetry", () => {
  it("sends the agent's telemetry, with latency from the model and (epoch, seq) as msgID", async () => {
    const { t, sent } = telemetry();
    t.setConnected(true);
    tick();
    t.close();
    await t.flush();
    const { msg, id } = sent[0];
    expect(id).toBe("dev-1:4:0");
    expect(msg).toMatchObject({ epoch: 4, seq: 0, variantId: serving.variantId, generation: 3 });
    expect(msg.simulated).toBe(true);
    expect(msg.deviceClass).toBe("rpi4");
    expect(msg.requests).toBeGreaterThan(100);
    expect(median(msg)).toBeCloseTo(0.5 * 12, 0); // base x rpi4's fp32 factor
    expect(msg.runs).toBe(msg.requests);
    expect(msg.shadow).toBeNull();
  });

  it("multiplies latency by the co-tenant load from the moment it changes", async () => {
    const { t, sent } = telemetry();
    t.setConnected(true);
    tick();
    t.close();
    t.setLoad(3);
    tick();
    t.close();
    await t.flush();
    expect(median(sent[1].msg) / median(sent[0].msg)).toBeCloseTo(3, 0);
  });

  it("counts shadow comparisons at the variant's agreement", async () => {
    const { t, sent } = telemetry({ ...serving, shadowSampleRate: 1 });
    t.setConnected(true);
    tick();
    t.close();
    await t.flush();
    const sh = sent[0].msg.shadow!;
    expect(sh.compared).toBe(sent[0].msg.requests);
    expect(sh.agreed / sh.compared).toBeCloseTo(0.75, 1);
  });

  it("sends empty windows while nothing serves, and holds windows while offline", async () => {
    const { t, sent } = telemetry(null);
    t.close();
    t.close();
    expect(t.pending).toBe(2);
    t.setConnected(true);
    await t.flush();
    expect(sent.map((s) => s.msg.seq)).toEqual([0, 1]);
    expect(sent[0].msg).toMatchObject({ variantId: null, requests: 0, latency: null });
    expect(t.pending).toBe(0);
  });
});
