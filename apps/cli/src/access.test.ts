import type { ApiTokenView } from "@edgefleet/protocol/rest";
import { describe, expect, it } from "vitest";
import { formatApiTokens, formatAudit, sinceParam } from "./access";

const NOW = Date.parse("2026-12-03T12:00:00Z");

describe("sinceParam", () => {
  it.each([
    ["30m", "2026-12-03T11:30:00.000Z"],
    ["12h", "2026-12-03T00:00:00.000Z"],
    ["7d", "2026-11-26T12:00:00.000Z"],
    ["90", "2026-12-03T11:58:30.000Z"],
    ["2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z"],
  ])("%s -> %s", (since, iso) => {
    expect(sinceParam(since, NOW)).toBe(iso);
  });

  it("names the flag for anything else", () => {
    expect(() => sinceParam("yesterday", NOW)).toThrow(/^--since: "yesterday" is neither/);
  });
});

describe("tables", () => {
  const token = (over: Partial<ApiTokenView>): ApiTokenView => ({
    id: "t1",
    name: "ci",
    role: "operator",
    createdBy: "apitoken:a",
    createdAt: "2026-12-03T11:00:00Z",
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    revokedBy: null,
    ...over,
  });

  it.each([
    [{}, "active"],
    [{ revokedAt: "2026-12-03T11:59:00Z" }, "revoked 60 s ago"],
    [{ expiresAt: "2026-12-03T11:59:00Z" }, "expired"],
    [{ expiresAt: "2026-12-04T00:00:00Z" }, "active until 2026-12-04T00:00:00Z"],
  ])("a token %j reads %s", (over, state) => {
    const [, row] = formatApiTokens([token(over)], NOW).split("\n");
    expect(row).toMatch(new RegExp(`^t1\\s+ci\\s+operator\\s+${state}\\s+60 min ago\\s+never`));
  });

  it("an audit row on one line, long data cut", () => {
    const out = formatAudit({
      items: [
        {
          id: "1",
          at: "2026-12-03T11:00:00.000Z",
          actor: "source:10.0.0.1",
          action: "enrollment.refused",
          subjectType: "enrollment",
          subjectId: "source:10.0.0.1",
          data: { reason: "x".repeat(200) },
        },
      ],
      nextCursor: null,
    });
    const [header, row] = out.split("\n");
    expect(header).toMatch(/^at\s+actor\s+action\s+subject\s+data$/);
    expect(row).toContain("source:10.0.0.1  enrollment.refused  enrollment:source:10.0.0.1");
    expect(row?.endsWith("…")).toBe(true);
    expect(formatAudit({ items: [], nextCursor: null })).toBe("no audit events match");
  });
});
