import { describe, expect, it } from "vitest";
import { SingleFlight, startTrigger } from "./profiling";

describe("startTrigger", () => {
  it.each([
    [undefined, "1.0.0", "start"],
    [{ agentVersion: "1.0.0" }, "1.0.0", undefined],
    [{ agentVersion: "0.9.0" }, "1.0.0", "version"],
  ])("stamp %j at agent %s -> %s", (stamp, version, expected) => {
    expect(startTrigger(stamp, version)).toBe(expected);
  });
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
