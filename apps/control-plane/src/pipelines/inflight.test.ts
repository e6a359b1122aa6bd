import { describe, expect, it } from "vitest";
import { InflightRequests } from "./inflight";

const req = (id: string, deadline = 1_000) => ({
  requestId: id,
  pipelineId: "p",
  dims: [1, 2],
  data: new Float32Array(2),
  deadline,
});

describe("InflightRequests", () => {
  it("answers a request once; a second answer for the same id is a dropped duplicate", async () => {
    const q = new InflightRequests<string>();
    const answer = q.start(req("r1"));
    q.attempt("r1", 1, 0);
    q.attempt("r1", 2, 10);
    expect(q.settle("r1", { ok: true, value: "first" })).toBe(true);
    expect(q.settle("r1", { ok: true, value: "second" })).toBe(false);
    await expect(answer).resolves.toBe("first");
    expect(q.duplicates).toBe(1);
    expect(q.size).toBe(0);
  });

  it.each([
    // now, retryMs, sentAt -> retry?, expired?
    [100, 50, 0, true, false],
    [100, 200, 0, false, false],
    [1_000, 50, 990, false, true],
  ])(
    "at %i ms with retry every %i ms (sent at %i): retry %s, expired %s",
    (now, retryMs, sentAt, retry, expired) => {
      const q = new InflightRequests<string>();
      void q.start(req("r")).catch(() => {});
      q.attempt("r", 1, sentAt);
      const due = q.due(now, retryMs);
      expect(due.retry.length === 1).toBe(retry);
      expect(due.expired.length === 1).toBe(expired);
    },
  );

  it("rejects with the error it is settled with, and counts attempts", async () => {
    const q = new InflightRequests<string>();
    const answer = q.start(req("r"));
    expect(q.attempt("r", 1, 0)?.attempts).toBe(1);
    expect(q.attempt("r", 2, 5)?.sentPlan).toBe(2);
    q.settle("r", { ok: false, error: new Error("deadline passed") });
    await expect(answer).rejects.toThrow("deadline passed");
    expect(q.attempt("r", 3, 6)).toBeUndefined();
  });
});
