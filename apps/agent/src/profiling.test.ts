import { describe, expect, it } from "vitest";
import { SingleFlight, startTrigger } from "./profiling";

describe("startTrigger", () => {
  const stored = {
    agentVersion: "1.0.0",
    threads: 2,
    deviceClass: "",
    measuredAt: "2026-01-01T00:00:00Z",
  };
  const now = Date.parse("2026-01-02T00:00:00Z");
  it.each([
    [undefined, "1.0.0", 2, "", "start"],
    [stored, "1.0.0", 2, "", undefined],
    [stored, "1.1.0", 2, "", "version"],
    [stored, "1.0.0", 4, "", "stale"],
    [stored, "1.0.0", 2, "rpi4", "stale"],
  ])(
    "stored %j, agent %s, %i threads, class %j -> %s",
    (s, agentVersion, threads, cls, expected) => {
      expect(startTrigger(s, { agentVersion, threads, simulatedClass: cls, now })).toBe(expected);
    },
  );
});

describe("SingleFlight", () => {
  it("joins callers to the run in progress and runs again afterwards", async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    const work = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 10));
      return runs;
    };
    const [a, b] = await Promise.all([flight.run(work), flight.run(work)]);
    expect([a, b, runs]).toEqual([1, 1, 1]);
    expect(flight.busy).toBe(false);
    expect(await flight.run(work)).toBe(2);
  });
});
