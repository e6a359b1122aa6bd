import { describe, expect, it } from "vitest";
import { href, parseHash, type Route } from "./router";

describe("parseHash", () => {
  it.each([
    ["", { name: "fleet" }],
    ["#/", { name: "fleet" }],
    ["#/devices", { name: "fleet" }],
    ["#/devices/8f2c-1", { name: "device", id: "8f2c-1" }],
    ["#/models", { name: "models" }],
    ["#/models/m1", { name: "model", id: "m1" }],
    ["#/plans", { name: "plans" }],
    ["#/rollouts", { name: "rollouts" }],
    ["#/rollouts/new", { name: "rollout-new" }],
    ["#/rollouts/r1", { name: "rollout", id: "r1" }],
    ["#/enroll", { name: "enroll" }],
    ["#/nope", { name: "not-found", path: "/nope" }],
    ["#/devices/a/b", { name: "not-found", path: "/devices/a/b" }],
    ["#/devices/<script>", { name: "not-found", path: "/devices/<script>" }],
  ] as [string, Route][])("%s", (hash, route) => expect(parseHash(hash).route).toEqual(route));

  it("keeps the query", () => {
    const loc = parseHash("#/?status=online&label=site%3Dlab");
    expect(loc.route).toEqual({ name: "fleet" });
    expect(loc.query.get("status")).toBe("online");
    expect(loc.query.getAll("label")).toEqual(["site=lab"]);
  });

  it.each([
    { name: "fleet" },
    { name: "device", id: "abc" },
    { name: "rollout-new" },
    { name: "rollout", id: "r1" },
    { name: "enroll" },
  ] as Route[])("href(%j) parses back", (route) => {
    expect(parseHash(href(route)).route).toEqual(route);
  });

  it("writes a query", () => {
    expect(href({ name: "plans" }, "modelId=m1")).toBe("#/plans?modelId=m1");
  });
});
