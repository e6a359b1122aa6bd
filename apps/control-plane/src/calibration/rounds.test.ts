import type { CalibrationDeviceView } from "@edgefleet/protocol";
import { describe, expect, it } from "vitest";
import { describeRequestError, recordAttempt, settleRound } from "./rounds";

const dev = (
  deviceId: string,
  over: Partial<CalibrationDeviceView> = {},
): CalibrationDeviceView => ({
  deviceId,
  status: "asked",
  round: 0,
  samples: 0,
  bytesSent: 0,
  rawBytes: 1000,
  ...over,
});

describe("federated calibration rounds", () => {
  it("records an answer and a drop, adding the bytes sent", () => {
    const a = recordAttempt(dev("a", { bytesSent: 10 }), 2, { ok: true, samples: 5, bytes: 7 });
    expect(a).toMatchObject({ status: "answered", round: 2, samples: 5, bytesSent: 17 });
    const b = recordAttempt(dev("b", { status: "answered", round: 1 }), 2, {
      ok: false,
      reason: "no reply within 5 s",
    });
    expect(b).toMatchObject({
      status: "dropped",
      round: 1,
      reason: "round 2: no reply within 5 s",
    });
  });

  const cases = [
    {
      name: "all answered",
      devices: [
        dev("a", { status: "answered", round: 1 }),
        dev("b", { status: "answered", round: 1 }),
      ],
      min: 2,
      ok: true,
      answered: ["a", "b"],
    },
    {
      name: "one dropped, minimum met",
      devices: [
        dev("a", { status: "answered", round: 1 }),
        dev("b", { status: "dropped", reason: "round 1: gone" }),
      ],
      min: 1,
      ok: true,
      answered: ["a"],
    },
    {
      name: "one dropped, below minimum",
      devices: [
        dev("a", { status: "answered", round: 1 }),
        dev("b", { status: "dropped", reason: "round 1: gone" }),
      ],
      min: 2,
      ok: false,
      error: "round 1: 1 of 2 devices answered, the run needs 2 (b: round 1: gone)",
    },
    {
      name: "answered an earlier round only",
      devices: [dev("a", { status: "answered", round: 1 })],
      min: 1,
      round: 2 as const,
      ok: false,
      error: "round 2: 0 of 1 devices answered, the run needs 1",
    },
  ];
  it.each(cases)("settles a round: $name", ({ devices, min, ok, answered, error, round }) => {
    const out = settleRound(devices, round ?? 1, min);
    expect(out.ok).toBe(ok);
    if (out.ok) expect(out.answered).toEqual(answered);
    else expect(out.error).toBe(error);
  });

  const errors = [
    {
      err: Object.assign(new Error("503"), { name: "NoRespondersError" }),
      text: "not connected (no responder on its rpc subject)",
    },
    {
      err: Object.assign(new Error("timeout"), { name: "TimeoutError" }),
      text: "no reply within 30 s",
    },
    {
      err: new Error("device x: ranges.relu1: is missing"),
      text: "device x: ranges.relu1: is missing",
    },
  ];
  it.each(errors)("describes $text", ({ err, text }) => {
    expect(describeRequestError(err, 30_000)).toBe(text);
  });
});
