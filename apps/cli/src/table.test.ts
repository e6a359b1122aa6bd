import { describe, expect, it } from "vitest";
import { columns, fmtAge, fmtBytes, fmtMs } from "./table";

describe("columns", () => {
  it("pads left-aligned text and right-aligned numbers, two spaces apart, no trailing blanks", () => {
    const text = columns<{ n: string; v: number }>(
      [
        { header: "name", cell: (r) => r.n },
        { header: "ms", cell: (r) => String(r.v), align: "right" },
        { header: "note", cell: () => "" },
      ],
      [
        { n: "pi", v: 1.5 },
        { n: "gateway", v: 12 },
      ],
    );
    expect(text.split("\n")).toEqual(["name      ms  note", "pi       1.5", "gateway   12"]);
  });

  it("keeps a multi-line value on its row", () => {
    const text = columns([{ header: "why", cell: (r: string) => r }], ["a\n  b"]);
    expect(text.split("\n")).toEqual(["why", "a b"]);
  });
});

describe("figures", () => {
  it.each([
    [null, "-"],
    [0.1234, "0.12"],
    [12.34, "12.3"],
    [123.4, "123"],
  ])("fmtMs(%s) = %s", (v, s) => expect(fmtMs(v)).toBe(s));
  it.each([
    [512, "512 B"],
    [1536, "1.5 KiB"],
    [4 * 2 ** 30, "4.0 GiB"],
    [20 * 2 ** 20, "20 MiB"],
  ])("fmtBytes(%d) = %s", (v, s) => expect(fmtBytes(v)).toBe(s));
  const now = Date.parse("2026-01-01T12:00:00Z");
  it.each([
    [null, "never"],
    ["2026-01-01T11:59:48Z", "12 s ago"],
    ["2026-01-01T11:55:00Z", "5 min ago"],
    ["2026-01-01T09:00:00Z", "3 h ago"],
    ["2025-12-29T12:00:00Z", "3 d ago"],
  ])("fmtAge(%s) = %s", (iso, s) => expect(fmtAge(iso, now)).toBe(s));
});
