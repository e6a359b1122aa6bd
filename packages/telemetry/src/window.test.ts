import { type Telemetry, telemetrySchema } from "@edgefleet/protocol";
import { describe, expect, it } from "vitest";
import { LatencySketch } from "./sketch";
import { T0, VARIANT_A } from "./test-fixtures";
import { type SnapshotFields, TelemetryWindow } from "./window";

const fields = (over: Partial<SnapshotFields> = {}): SnapshotFields => ({
  epoch: 3,
  seq: 7,
  windowEnd: T0 + 5000,
  variantId: VARIANT_A,
  generation: 2,
  queueDepth: 0,
  cpuPercent: 40,
  rssBytes: 70e6,
  simulated: true,
  deviceClass: "rpi4",
  droppedBefore: 0,
  ...over,
});

type Event =
  | ["request", number, "ok" | "error" | "rejected"]
  | ["run", number, number]
  | ["queue", number];

const stats = (m: Telemetry["latency"]) =>
  m && { count: m.count, sum: m.sumMs, min: m.minMs, max: m.maxMs };

describe("a window of serving", () => {
  it.each([
    {
      case: "nothing happened",
      events: [],
      want: { requests: 0, errors: 0, rejected: 0, runs: 0, samples: 0, queueDepthMax: 0 },
      latency: null,
      run: null,
    },
    {
      case: "only answered requests enter the latency sketch",
      events: [
        ["request", 10, "ok"],
        ["request", 30, "ok"],
        ["request", 20, "ok"],
        ["request", 900, "error"],
        ["request", 0.1, "rejected"],
        ["request", 0.1, "rejected"],
      ],
      want: { requests: 3, errors: 1, rejected: 2 },
      latency: { count: 3, sum: 60, min: 10, max: 30 },
      run: null,
    },
    {
      case: "only single-sample runs are timed, all are counted",
      events: [
        ["run", 1, 5],
        ["run", 4, 12],
        ["run", 1, 7],
        ["run", 8, 20],
      ],
      want: { runs: 4, samples: 14 },
      latency: null,
      run: { count: 2, sum: 12, min: 5, max: 7 },
    },
    {
      case: "the deepest queue seen",
      events: [
        ["queue", 3],
        ["queue", 7],
        ["queue", 2],
      ],
      want: { queueDepth: 0, queueDepthMax: 7 },
      latency: null,
      run: null,
    },
    {
      case: "the depth at the end counts as seen",
      events: [["queue", 3]],
      end: { queueDepth: 9 },
      want: { queueDepth: 9, queueDepthMax: 9 },
      latency: null,
      run: null,
    },
  ] as {
    case: string;
    events: Event[];
    end?: Partial<SnapshotFields>;
    want: Partial<Telemetry>;
    latency: ReturnType<typeof stats>;
    run: ReturnType<typeof stats>;
  }[])("$case", ({ events, end, want, latency, run }) => {
    const w = new TelemetryWindow(T0);
    for (const e of events) {
      if (e[0] === "request") w.onRequest(e[1], e[2]);
      else if (e[0] === "run") w.onRun(e[1], e[2]);
      else w.onQueueDepth(e[1]);
    }
    const m = telemetrySchema.parse(w.snapshot(fields(end)));
    expect(m).toMatchObject({ version: 1, windowStart: T0, windowEnd: T0 + 5000, ...want });
    expect(stats(m.latency)).toEqual(latency);
    expect(stats(m.runBatch1)).toEqual(run);
    if (m.latency) expect(LatencySketch.fromSummary(m.latency).count).toBe(m.latency.count);
  });

  it("copies what the agent knows", () => {
    const f = fields({ droppedBefore: 4, variantId: null, cpuPercent: 133.3 });
    const { epoch, seq, variantId, generation, cpuPercent, rssBytes, simulated, deviceClass } = f;
    expect(new TelemetryWindow(T0).snapshot(f)).toMatchObject({
      ...{ epoch, seq, variantId, generation, cpuPercent, rssBytes, simulated, deviceClass },
      droppedBefore: 4,
    });
  });

  it("starts the next window where the last one ended, empty", () => {
    const w = new TelemetryWindow(T0);
    w.onRequest(5, "ok");
    w.onRun(1, 2);
    w.onQueueDepth(4);
    w.snapshot(fields({ windowEnd: T0 + 5000 }));
    const next = telemetrySchema.parse(w.snapshot(fields({ seq: 8, windowEnd: T0 + 10_000 })));
    expect(next).toMatchObject({
      windowStart: T0 + 5000,
      windowEnd: T0 + 10_000,
      requests: 0,
      runs: 0,
      queueDepthMax: 0,
      latency: null,
      runBatch1: null,
    });
  });

  it("never ends a window before it starts when the clock steps back", () => {
    const w = new TelemetryWindow(T0);
    const m = w.snapshot(fields({ windowEnd: T0 - 3000 }));
    expect([m.windowStart, m.windowEnd]).toEqual([T0, T0]);
    expect(w.snapshot(fields({ windowEnd: T0 + 2000 })).windowStart).toBe(T0);
  });
});
