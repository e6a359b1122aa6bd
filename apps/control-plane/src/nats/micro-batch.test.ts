import { describe, expect, it } from "vitest";
import { MicroBatch } from "./micro-batch";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("MicroBatch", () => {
  it("hands over a batch when it is full, or when its first item has waited long enough", async () => {
    const batches: string[][] = [];
    const batch = new MicroBatch<string>(
      async (ids) => {
        batches.push(ids);
      },
      { maxWaitMs: 20, maxItems: 3 },
    );
    for (const id of ["a", "b", "c"]) batch.add(id);
    expect(batches).toEqual([["a", "b", "c"]]);
    batch.add("d");
    expect(batches).toHaveLength(1);
    await tick(40);
    expect(batches).toEqual([["a", "b", "c"], ["d"]]);
    await batch.close();
  });

  it("writes one batch at a time; what arrives meanwhile goes into the next", async () => {
    const batches: string[][] = [];
    let release: () => void = () => {};
    let inFlight = 0;
    let most = 0;
    const batch = new MicroBatch<string>(
      async (ids) => {
        inFlight++;
        most = Math.max(most, inFlight);
        batches.push(ids);
        await new Promise<void>((r) => {
          release = r;
        });
        inFlight--;
      },
      { maxWaitMs: 1, maxItems: 2 },
    );
    batch.add("a");
    batch.add("b");
    for (const id of ["c", "d", "e"]) batch.add(id);
    expect(batches).toEqual([["a", "b"]]);
    release();
    await tick(5);
    expect(batches).toEqual([
      ["a", "b"],
      ["c", "d", "e"],
    ]);
    const closing = batch.close();
    release();
    await closing;
    expect(most).toBe(1);
  });
});
