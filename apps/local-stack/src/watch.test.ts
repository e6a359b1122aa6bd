import type { FleetEvent } from "@edgefleet/protocol";
import { expect, describe as group, it } from "vitest";
import { describe } from "./watch";

const at = "2026-12-02T19:20:25.000Z";
const event = (type: FleetEvent["type"], data: Record<string, unknown>): FleetEvent => ({
  type,
  deviceId: "",
  at,
  data,
});

group("the fleet watch line of a workload event", () => {
  it.each([
    [
      event("job.updated", {
        name: "mnist",
        state: "running",
        shards: { total: 50, done: 23, parked: 0 },
        accuracy: null,
      }),
      "19:20:25 job mnist running: 23/50 shards",
    ],
    [
      event("job.updated", {
        name: "mnist",
        state: "completed",
        shards: { total: 50, done: 49, parked: 1 },
        accuracy: 0.9701,
      }),
      "19:20:25 job mnist completed: 49/50 shards, 1 parked, accuracy 97.01 %",
    ],
    [
      event("calibration.updated", {
        id: "e45a47d5-d044-4ceb-a0e9-e7ef596e2bae",
        state: "succeeded",
        phase: "done",
        result: { variantName: "int8-static-percentile-fed-e45a47d5" },
      }),
      "19:20:25 calibration e45a47d5 succeeded (done) -> int8-static-percentile-fed-e45a47d5",
    ],
    [
      event("calibration.updated", {
        id: "e45a47d5",
        state: "failed",
        phase: "round1",
        error: "2 of 3 devices answered, 3 needed",
      }),
      "19:20:25 calibration e45a47d5 failed (round1): 2 of 3 devices answered, 3 needed",
    ],
    [
      event("pipeline.updated", {
        pipelineId: "b124550c-5e81-4f42-a9d8-9675b47e71b2",
        status: "running",
        planVersion: 2,
        devices: ["a", "b"],
      }),
      "19:20:25 pipeline b124550c running, plan 2 on 2 device(s)",
    ],
  ])("%#", (e, line) => {
    expect(describe(e, new Map())).toBe(line);
  });

  it("still names devices for device events", () => {
    const e: FleetEvent = { type: "device.online", deviceId: "0984c59b-da5e", at };
    expect(describe(e, new Map([["0984c59b-da5e", "agent-2"]]))).toBe("19:20:25 agent-2 online");
  });
});
