import type { StateReport } from "@edgefleet/protocol";
import { describe, expect, it } from "vitest";
import { StateReporter } from "./state-reporter";

const report = (generation: number, phase: StateReport["phase"]): StateReport => ({
  type: "state",
  sentAt: 1,
  generation,
  phase,
  serving: null,
});

describe("StateReporter", () => {
  it("holds reports while offline and sends only the latest when back", async () => {
    const sent: StateReport[] = [];
    const r = new StateReporter(async (x) => void sent.push(x));
    r.report(report(1, "applying"));
    r.report(report(1, "applied"));
    expect(sent).toEqual([]);
    r.setConnected(true);
    await r.flush();
    expect(sent).toEqual([report(1, "applied")]);
    expect(r.waiting).toBeUndefined();
  });

  it("retries a failed publish while connected until it is acknowledged", async () => {
    let failures = 3;
    const sent: StateReport[] = [];
    const r = new StateReporter(
      async (x) => {
        if (failures-- > 0) throw new Error("no ack");
        sent.push(x);
      },
      { baseMs: 1, maxMs: 5 },
    );
    r.setConnected(true);
    r.report(report(2, "applied"));
    await r.flush();
    expect(sent).toEqual([report(2, "applied")]);
    expect(failures).toBe(-1);
    expect(r.waiting).toBeUndefined();
  });

  it("stops retrying when the connection drops, keeps the report and sends it when back", async () => {
    let fail = true;
    const sent: StateReport[] = [];
    const r = new StateReporter(
      async (x) => {
        if (fail) throw new Error("no ack");
        sent.push(x);
      },
      { baseMs: 60_000, maxMs: 60_000 },
    );
    r.setConnected(true);
    r.report(report(2, "failed"));
    const flushed = r.flush();
    await new Promise((res) => setTimeout(res, 10));
    r.setConnected(false);
    await flushed;
    expect(r.waiting).toEqual(report(2, "failed"));
    fail = false;
    r.setConnected(true);
    await r.flush();
    expect(sent).toEqual([report(2, "failed")]);
  });
});
