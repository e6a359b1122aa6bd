import { describe, expect, it } from "vitest";
import { backoffDelay, ReconnectBackoff } from "./backoff";

const policy = { baseMs: 100, maxMs: 1000 };

describe("backoffDelay", () => {
  it.each([
    [0, 0, 50],
    [0, 0.999, 100],
    [1, 0, 100],
    [3, 0.5, 600],
    [4, 0, 500],
    [10, 0.999, 1000],
    [-1, 0, 50],
  ])("attempt %i, random %d -> %i ms", (attempt, random, want) => {
    expect(backoffDelay(attempt, policy, random)).toBe(want);
  });
});

describe("ReconnectBackoff", () => {
  it("holds one delay until the next dial, grows per dial, resets once connected", () => {
    const b = new ReconnectBackoff(policy, () => 0);
    expect([b.delay(), b.delay()]).toEqual([50, 50]);
    b.onDial();
    b.onDial();
    expect(b.delay()).toBe(200);
    b.reset();
    expect(b.delay()).toBe(50);
  });

  it("draws jitter once per attempt", () => {
    let draws = 0;
    const b = new ReconnectBackoff(policy, () => {
      draws++;
      return 0.5;
    });
    b.delay();
    b.delay();
    expect(draws).toBe(1);
  });
});
