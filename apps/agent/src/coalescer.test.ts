import { describe, expect, it } from "vitest";
import { Coalescer } from "./coalescer";

describe("Coalescer", () => {
  it("merges calls during a run into one more run, and loses none", async () => {
    const seen: number[] = [];
    let version = 0;
    const c = new Coalescer(async () => {
      seen.push(version);
      await new Promise((r) => setTimeout(r, 5));
    });
    const first = c.run();
    version = 1;
    c.run();
    version = 2;
    const third = c.run();
    await Promise.all([first, third]);
    // The first run saw version 0; one merged re-run saw the latest.
    expect(seen).toEqual([0, 2]);
    expect(c.busy).toBe(false);
  });

  it("a call right after a run that did no waiting starts a new run", async () => {
    let runs = 0;
    const c = new Coalescer(async () => {
      runs++;
    });
    c.run();
    await c.run();
    expect(runs).toBe(2);
  });
});
