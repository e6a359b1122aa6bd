import { describe, expect, it } from "vitest";
import { NatsServersError, natsServers } from "./servers";

describe("natsServers", () => {
  it.each([
    ["nats://127.0.0.1:4222", ["nats://127.0.0.1:4222"]],
    [
      "nats://a:4222, nats://b:4222 ,nats://c:4222",
      ["nats://a:4222", "nats://b:4222", "nats://c:4222"],
    ],
    ["a:4222,b:4222", ["a:4222", "b:4222"]],
    ["nats://a:4222,,nats://a:4222,", ["nats://a:4222"]],
    ["tls://nats.example.com:4443", ["tls://nats.example.com:4443"]],
  ])("%s", (text, want) => {
    expect(natsServers(text)).toEqual(want);
  });

  it.each([
    ["", /NATS_URL: no NATS server given/],
    [" , ", /NATS_URL: no NATS server given/],
    ["http://a:4222", /NATS_URL: "http:\/\/a:4222" is not a NATS URL/],
    ["nats://a:4222,nats://:99999", /NATS_URL: "nats:\/\/:99999" is not a NATS URL/],
  ])("refuses %j", (text, message) => {
    expect(() => natsServers(text)).toThrow(message);
    expect(() => natsServers(text)).toThrow(NatsServersError);
  });

  it("names the field it parses", () => {
    expect(() => natsServers("", "NATS_PUBLIC_URLS")).toThrow(/^NATS_PUBLIC_URLS: /);
  });
});
