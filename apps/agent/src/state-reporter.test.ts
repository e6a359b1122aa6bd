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

  it("keeps a report whose publish failed and sends it on the next chance", async () => {
    let fail = true;
    const sent: StateReport[] = [];
    const r = new StateReporter(async (x) => {
      if (fail) throw new Error("no ack");
      sent.push(x);
    });
    r.setConnected(true);
    r.report(report(2, "failed"));
    await r.flush();
    expect(r.waiting).toEqual(report(2, "failed"));
    fail = false;
    r.setConnected(true);
    await r.flush();
    expect(sent).toEqual([report(2, "failed")]);
  });
});
