import { describe, expect, it } from "vitest";
import { decodeShardReply, encodeShardReply } from "./jobs";
import { MessageDecodeError } from "./messages";

const jobId = "3f1d2c4b-5a69-4e7f-8a1b-2c3d4e5f6a7b";
const head = {
  status: "shard" as const,
  jobId,
  index: 2,
  start: 6,
  count: 3,
  sampleDims: [2],
  delivery: 1,
  model: { mode: "assigned" as const },
};

describe("shard reply envelope", () => {
  it("round-trips a shard's head and float32 inputs", () => {
    const inputs = Float32Array.from([1, 2, 3, 4, 5, 6.5]);
    const back = decodeShardReply(encodeShardReply(head, new Uint8Array(inputs.buffer)));
    expect(back).toMatchObject(head);
    expect(Array.from(back.inputs!)).toEqual([1, 2, 3, 4, 5, 6.5]);
  });

  it.each([
    [{ status: "wait", retryMs: 250 }],
    [{ status: "done", cancelled: false }],
    [{ status: "done", cancelled: true }],
    [{ status: "refused", reason: "not a member of this job" }],
  ] as const)("round-trips %j without inputs", (h) => {
    expect(decodeShardReply(encodeShardReply(h))).toEqual(h);
  });

  it("reads a plain done (an older control plane) as not cancelled", () => {
    expect(decodeShardReply(encodeShardReply({ status: "done" }))).toEqual({
      status: "done",
      cancelled: false,
    });
  });

  it.each([
    ["too short", new Uint8Array(2), /shorter than its header/],
    ["a truncated head", encodeShardReply({ status: "done" }).subarray(0, 8), /head truncated/],
    [
      "inputs of the wrong size",
      encodeShardReply(head, new Uint8Array(20)),
      /20 bytes, 3 samples need 24/,
    ],
    ["an unknown status", encodeShardReply({ status: "maybe" } as never), /status/],
  ])("refuses %s", (_what, bytes, message) => {
    expect(() => decodeShardReply(bytes)).toThrow(MessageDecodeError);
    expect(() => decodeShardReply(bytes)).toThrow(message);
  });
});
