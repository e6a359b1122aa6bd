import type { CalibrationDeviceView, CalibrationRunView } from "@edgefleet/protocol";
import { describe, expect, it } from "vitest";
import { calibrationProgress, formatCalibration } from "./calibrate";

const dev = (
  deviceId: string,
  over: Partial<CalibrationDeviceView> = {},
): CalibrationDeviceView => ({
  deviceId,
  status: "asked",
  round: 0,
  samples: 0,
  bytesSent: 0,
  rawBytes: 0,
  ...over,
});

const view = (over: Partial<CalibrationRunView>): CalibrationRunView => ({
  id: "run-1",
  modelId: "m",
  sourceVariantId: "v",
  method: "percentile",
  percentile: 99.99,
  bins: 2048,
  minDevices: 2,
  state: "running",
  phase: "round1",
  rounds: 2,
  devices: [dev("a"), dev("b")],
  samples: 0,
  resultVariantId: null,
  result: null,
  error: null,
  createdAt: "",
  updatedAt: "",
  ...over,
});

describe("edgefleet calibrate", () => {
  const cases = [
    {
      name: "nothing answered yet",
      v: view({}),
      done: 0,
      total: 5,
      phase: "round 1 of 2: device statistics",
    },
    {
      name: "one device through round 1",
      v: view({ devices: [dev("a", { status: "answered", round: 1 }), dev("b")] }),
      done: 1,
      total: 5,
    },
    {
      name: "a drop counts as settled for every round",
      v: view({
        phase: "round2",
        devices: [dev("a", { status: "answered", round: 1 }), dev("b", { status: "dropped" })],
      }),
      done: 3,
      total: 5,
      phase: "round 2 of 2: device statistics",
    },
    {
      name: "building",
      v: view({
        phase: "building",
        devices: [
          dev("a", { status: "answered", round: 2 }),
          dev("b", { status: "answered", round: 2 }),
        ],
      }),
      done: 4,
      total: 5,
      phase: "building the int8 variant",
    },
    {
      name: "done",
      v: view({ phase: "done", state: "succeeded" }),
      done: 5,
      total: 5,
      phase: "succeeded",
    },
    {
      name: "minmax has one round",
      v: view({
        rounds: 1,
        method: "minmax",
        devices: [dev("a", { status: "answered", round: 1 })],
      }),
      done: 1,
      total: 2,
    },
  ];
  it.each(cases)("progress: $name", ({ v, done, total, phase }) => {
    const p = calibrationProgress(v);
    expect([p.done, p.total]).toEqual([done, total]);
    if (phase) expect(p.phase).toBe(phase);
  });

  it("prints each device, what it sent against its data, the variant and errors", () => {
    const text = formatCalibration(
      view({
        state: "succeeded",
        phase: "done",
        devices: [
          dev("a", {
            status: "answered",
            round: 2,
            samples: 400,
            bytesSent: 44_000,
            rawBytes: 1_254_400,
          }),
          dev("b", { status: "dropped", reason: "round 1: no reply within 60 s" }),
        ],
        resultVariantId: "v8",
        result: {
          variantName: "int8-static-percentile-fed-run1",
          accuracy: 0.9712,
          sourceAccuracy: 0.9721,
          devices: 1,
          samples: 400,
          durationMs: 2100,
        },
      }),
    );
    expect(text).toContain("a  answered, 400 samples, sent 44000 bytes, 29x smaller than its data");
    expect(text).toContain("b  dropped: round 1: no reply within 60 s");
    expect(text).toContain(
      "variant int8-static-percentile-fed-run1 (v8): accuracy 97.12 % (fp32 97.21 %), from 1 devices, 400 samples, 2.1 s",
    );
  });
});
