import { describe, expect, it } from "vitest";
import { decodeJson, deviceEventSchema, encodeJson, heartbeatSchema } from "./messages";

describe("decodeJson", () => {
  it("round-trips a heartbeat", () => {
    const hb = { seq: 3, sentAt: 1_700_000_000_000, agentVersion: "0.1.0", uptimeS: 12.5 };
    expect(decodeJson(heartbeatSchema, encodeJson(hb))).toEqual(hb);
  });

  it.each([
    ["not json", /not valid JSON/],
    [JSON.stringify({ seq: -1, sentAt: 1, agentVersion: "x", uptimeS: 0 }), /^seq:/],
    [JSON.stringify({ type: "facts", sentAt: 1, agentVersion: "x" }), /facts/],
    [JSON.stringify({ type: "nope", sentAt: 1 }), /type/],
  ])("refuses %s naming the field", (text, message) => {
    const schema = text.includes("type") ? deviceEventSchema : heartbeatSchema;
    expect(() => decodeJson(schema as never, new TextEncoder().encode(text))).toThrow(message);
  });
});
