import { describe, expect, it } from "vitest";
import { KeyedPool } from "./keyed-pool";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("KeyedPool", () => {
  it("keeps each key's tasks in order while other keys run beside them", async () => {
    const pool = new KeyedPool(4);
    const log: string[] = [];
    let inFlight = 0;
    let most = 0;
    // a's tasks end only when released; b's end after a timer tick.
    const release: (() => void)[] = [];
    const task = (key: string, i: number) => async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      log.push(`${key}${i}>`);
      if (key === "a") await new Promise<void>((r) => release.push(r));
      else await tick(1);
      log.push(`${key}${i}<`);
      inFlight--;
    };
    for (let i = 0; i < 3; i++) {
      await pool.submit("a", task("a", i));
      await pool.submit("b", task("b", i));
    }
    // b's tasks did not wait for a's: all three end while a0 is still running.
    while (!log.includes("b2<")) await tick(1);
    expect(log).not.toContain("a0<");
    expect(release).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      while (release.length <= i) await tick(1);
      release[i]();
    }
    await pool.idle();
    const order = (k: string) => log.filter((e) => e.startsWith(k));
    // Per key, each task ends before the next one starts.
    expect(order("a")).toEqual(["a0>", "a0<", "a1>", "a1<", "a2>", "a2<"]);
    expect(order("b")).toEqual(["b0>", "b0<", "b1>", "b1<", "b2>", "b2<"]);
    expect(most).toBe(2);
  });

  it("admits no more than its limit: submit waits for a free slot", async () => {
    const pool = new KeyedPool(2);
    const gates: (() => void)[] = [];
    let admitted = 0;
    const submits = Array.from({ length: 5 }, (_, i) =>
      pool.submit(`k${i}`, () => new Promise<void>((r) => gates.push(r))).then(() => admitted++),
    );
    await tick(5);
    expect(admitted).toBe(2);
    gates.shift()?.();
    await tick(5);
    expect(admitted).toBe(3);
    while (admitted < 5 || gates.length > 0) {
      gates.shift()?.();
      await tick(1);
    }
    await Promise.all(submits);
    await pool.idle();
  });

  it("refuses a limit that is not a positive integer", () => {
    expect(() => new KeyedPool(0)).toThrow("limit must be a positive integer");
  });
});
