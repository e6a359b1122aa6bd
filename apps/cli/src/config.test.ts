import { describe, expect, it } from "vitest";
import {
  type ConnectionSources,
  checkUrl,
  configPath,
  LOCAL_STACK_URL,
  parseConfigFile,
  resolveConnection,
} from "./config";

const FILE = { url: "https://cp.example:8443/", token: "file-token" };

describe("resolveConnection: flags > env > config file > local stack", () => {
  it.each<[string, Partial<ConnectionSources>, string, string | undefined]>([
    ["nothing but the local stack", { localStackToken: "local" }, LOCAL_STACK_URL, "local"],
    ["the config file", { file: FILE }, "https://cp.example:8443", "file-token"],
    [
      "env over the file",
      { env: { EDGEFLEET_URL: "http://env:8080", EDGEFLEET_TOKEN: "env-t" }, file: FILE },
      "http://env:8080",
      "env-t",
    ],
    [
      "flags over env",
      {
        flags: { url: "http://flag:1/", token: "flag-t" },
        env: { EDGEFLEET_URL: "http://env:8080", EDGEFLEET_TOKEN: "env-t" },
      },
      "http://flag:1",
      "flag-t",
    ],
    [
      "a flag URL with the env token",
      { flags: { url: "http://flag:1" }, env: { EDGEFLEET_TOKEN: "env-t" } },
      "http://flag:1",
      "env-t",
    ],
    [
      "the file's token for its own URL given as a flag",
      { flags: { url: "https://cp.example:8443" }, file: FILE },
      "https://cp.example:8443",
      "file-token",
    ],
    [
      "the file over the local stack",
      { file: FILE, localStackToken: "local" },
      "https://cp.example:8443",
      "file-token",
    ],
    [
      "the local stack token for its URL given by env",
      { env: { EDGEFLEET_URL: "http://127.0.0.1:8080/" }, localStackToken: "local" },
      LOCAL_STACK_URL,
      "local",
    ],
    // A saved token never travels to another URL.
    [
      "the file's token not sent elsewhere",
      { flags: { url: "http://other:1" }, file: FILE },
      "http://other:1",
      undefined,
    ],
    [
      "the local stack token not sent elsewhere",
      { env: { EDGEFLEET_URL: "http://other:1" }, localStackToken: "local" },
      "http://other:1",
      undefined,
    ],
    ["no token at all", {}, LOCAL_STACK_URL, undefined],
  ])("%s", (_, given, url, token) => {
    const r = resolveConnection({ flags: {}, env: {}, ...given });
    expect(r.url).toBe(url);
    if (token === undefined) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toMatch(/no API token for .*edgefleet login/);
    } else {
      expect(r).toMatchObject({ ok: true, token });
    }
  });

  it("says whose token the config file holds", () => {
    const r = resolveConnection({ flags: { url: "http://other:1" }, env: {}, file: FILE });
    expect(r.ok ? "" : r.message).toContain(
      "the config file's token is for https://cp.example:8443",
    );
  });
});

describe("configPath", () => {
  it.each([
    [{ EDGEFLEET_CONFIG: "/etc/ef.json", HOME: "/h" }, "/etc/ef.json"],
    [{ XDG_CONFIG_HOME: "/x", HOME: "/h" }, "/x/edgefleet/config.json"],
    [{ HOME: "/h" }, "/h/.config/edgefleet/config.json"],
  ])("%j -> %s", (env, path) => {
    expect(configPath(env)).toBe(path);
  });
});

describe("parseConfigFile / checkUrl", () => {
  it.each([
    ["not json", /is not valid JSON/],
    ['{"url": "http://x"}', /needs "url" and "token"/],
    ['{"url": 1, "token": "t"}', /needs "url" and "token"/],
  ])("refuses %s naming the file", (text, msg) => {
    expect(() => parseConfigFile("/c.json", text)).toThrow(msg);
    expect(() => parseConfigFile("/c.json", text)).toThrow(/^\/c\.json: /);
  });

  it.each([
    ["http://127.0.0.1:8080/", "http://127.0.0.1:8080"],
    ["https://cp.example", "https://cp.example"],
  ])("accepts %s", (url, out) => expect(checkUrl(url)).toBe(out));

  it.each([
    ["cp.example", /--url: .* is not a URL/],
    ["ftp://cp.example", /--url: must be http/],
  ])("refuses %s", (url, msg) => expect(() => checkUrl(url)).toThrow(msg));
});
