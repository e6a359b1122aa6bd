import { describe, expect, it } from "vitest";
import { OfflineBuffer } from "./offline-buffer";
import { T0 } from "./test-fixtures";
import { TelemetryWindow } from "./window";

const drain = <T>(b: OfflineBuffer<T>) => {
  const out: T[] = [];
  for (let x = b.shift(); x !== undefined; x = b.shift()) out.push(x);
  return out;
};

describe("offline buffer", () => {
  it.each([
    { case: "under capacity", capacity: 3, push: [1, 2], left: [1, 2], dropped: 0 },
    { case: "exactly full", capacity: 3, push: [1, 2, 3], left: [1, 2, 3], dropped: 0 },
    { case: "drops the oldest", capacity: 3, push: [1, 2, 3, 4, 5], left: [3, 4, 5], dropped: 2 },
    { case: "capacity one", capacity: 1, push: [1, 2, 3], left: [3], dropped: 2 },
  ])("$case", ({ capacity, push, left, dropped }) => {
    const b = new OfflineBuffer<number>(capacity);
    for (const x of push) b.push(x);
    expect(b.size).toBe(left.length);
    expect(b.peek()).toBe(left[0]);
    expect(b.takeDropped()).toBe(dropped);
    expect(b.takeDropped()).toBe(0); // taken once
    expect(drain(b)).toEqual(left);
  });

  it("keeps order across wrap-around with acks in between", () => {
    const b = new OfflineBuffer<number>(3);
    b.push(1);
    b.push(2);
    expect(b.shift()).toBe(1); // acked
    b.push(3);
    b.push(4);
    b.push(5); // full: 2 goes
    expect([b.takeDropped(), ...drain(b)]).toEqual([1, 3, 4, 5]);
    expect([b.peek(), b.shift(), b.size]).toEqual([undefined, undefined, 0]);
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => new OfflineBuffer(0)).toThrow(RangeError);
    expect(() => new OfflineBuffer(2.5)).toThrow(RangeError);
  });

  it("reports every drop, including those a dropped message was carrying", () => {
    // An agent offline for 6 windows with room for 2 messages loses 4. The messages that get
    // through, plus the next one, account for all 4, though messages that reported drops were
    // themselves dropped.
    const buffer = new OfflineBuffer<{ seq: number; droppedBefore: number }>(2, {
      carried: (m) => m.droppedBefore,
    });
    const window = new TelemetryWindow(T0);
    for (let seq = 0; seq < 6; seq++) {
      const m = window.snapshot({
        ...{ epoch: 1, seq, windowEnd: T0 + (seq + 1) * 5000, variantId: null, generation: 0 },
        ...{ queueDepth: 0, cpuPercent: 0, rssBytes: 0, simulated: false, deviceClass: "x" },
        droppedBefore: buffer.takeDropped(),
      });
      buffer.push(m);
    }
    const sent = drain(buffer);
    expect(sent.map((m) => m.seq)).toEqual([4, 5]);
    expect(sent.reduce((n, m) => n + m.droppedBefore, 0) + buffer.takeDropped()).toBe(4);
  });
});
