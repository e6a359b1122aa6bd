import { describe, expect, it } from "vitest";
import { type Cursor, hasSeen, markSeen, SEEN_WINDOW } from "./cursor";
import { rng } from "./test-fixtures";

type Pos = [epoch: number, seq: number];
const W = SEEN_WINDOW;

/** The cursor after folding these, in this order, from nothing. */
const after = (folded: Pos[], start?: Cursor) =>
  folded.reduce<Cursor | undefined>((c, [epoch, seq]) => markSeen(c, { epoch, seq }), start);

describe("the seen window", () => {
  it.each([
    { case: "nothing folded yet", folded: [], seen: [], unseen: [[1, 0]] },
    {
      case: "the one folded",
      folded: [[1, 5]],
      seen: [[1, 5]],
      unseen: [
        [1, 4],
        [1, 6],
        [2, 0],
      ],
    },
    {
      case: "a gap below the newest stays open (a batch lost with a killed process)",
      folded: [
        [1, 0],
        [1, 1],
        [1, 4],
        [1, 5],
      ],
      seen: [
        [1, 0],
        [1, 1],
        [1, 4],
        [1, 5],
      ],
      unseen: [
        [1, 2],
        [1, 3],
        [1, 6],
      ],
    },
    {
      case: "out of order, every one counted",
      folded: [
        [1, 9],
        [1, 2],
        [1, 7],
      ],
      seen: [
        [1, 9],
        [1, 2],
        [1, 7],
      ],
      unseen: [
        [1, 8],
        [1, 3],
        [1, 0],
      ],
    },
    {
      case: "the window's last bit is still remembered",
      folded: [
        [1, 0],
        [1, W - 1],
      ],
      seen: [[1, 0]],
      unseen: [
        [1, 1],
        [1, W - 2],
      ],
    },
    {
      case: "older than the window counts as folded",
      folded: [[1, W + 3]],
      seen: [
        [1, 3],
        [1, 0],
      ],
      unseen: [
        [1, 4],
        [1, W + 2],
      ],
    },
    {
      case: "a jump across bytes keeps the bits (shift by 13)",
      folded: [
        [1, 0],
        [1, 2],
        [1, 15],
      ],
      seen: [
        [1, 0],
        [1, 2],
        [1, 15],
      ],
      unseen: [
        [1, 1],
        [1, 3],
        [1, 14],
      ],
    },
    {
      case: "a jump past the whole window forgets it",
      folded: [
        [1, 0],
        [1, 2 * W],
      ],
      seen: [
        [1, 2 * W],
        [1, W],
      ],
      unseen: [
        [1, W + 1],
        [1, 2 * W - 1],
      ],
    },
    {
      case: "a new epoch starts a new window; the old epoch counts as folded",
      folded: [
        [1, 100],
        [2, 3],
      ],
      seen: [
        [2, 3],
        [1, 50],
        [1, 101],
      ],
      unseen: [
        [2, 2],
        [2, 0],
        [2, 4],
      ],
    },
    {
      case: "folding a seen one again changes nothing",
      folded: [
        [1, 3],
        [1, 3],
        [1, 1],
      ],
      seen: [
        [1, 3],
        [1, 1],
      ],
      unseen: [
        [1, 2],
        [1, 0],
      ],
    },
  ] as { case: string; folded: Pos[]; seen: Pos[]; unseen: Pos[] }[])("$case", (c) => {
    const cursor = after(c.folded);
    const query = ([epoch, seq]: Pos) => hasSeen(cursor, { epoch, seq });
    expect(c.seen.map(query)).toEqual(c.seen.map(() => true));
    expect(c.unseen.map(query)).toEqual(c.unseen.map(() => false));
  });

  it("a cursor stored before the window (no bits) counts everything at or below as folded", () => {
    const legacy: Cursor = { epoch: 1, seq: 10 };
    expect([10, 3, 0].map((seq) => hasSeen(legacy, { epoch: 1, seq }))).toEqual([true, true, true]);
    const next = after([[1, 12]], legacy);
    expect([12, 10, 3].map((seq) => hasSeen(next, { epoch: 1, seq }))).toEqual([true, true, true]);
    expect(hasSeen(next, { epoch: 1, seq: 11 })).toBe(false);
  });

  it("leaves the cursor it is given as it was", () => {
    const c = after([[1, 4]])!;
    const bits = new Uint8Array(c.seen!);
    markSeen(c, { epoch: 1, seq: 2 });
    markSeen(c, { epoch: 1, seq: 9 });
    expect(c).toMatchObject({ epoch: 1, seq: 4 });
    expect(c.seen).toEqual(bits);
  });

  it("matches a plain set of folded seqs over a random stream", () => {
    const random = rng(7);
    let cursor: Cursor | undefined;
    const folded = new Set<number>();
    let newest = -1;
    for (let i = 0; i < 5_000; i++) {
      const seq = Math.max(0, newest + Math.floor(random() * 40) - 30);
      const expected = folded.has(seq) || seq <= newest - W;
      expect({ i, seq, seen: hasSeen(cursor, { epoch: 1, seq }) }).toEqual({
        i,
        seq,
        seen: expected,
      });
      if (!expected) folded.add(seq);
      cursor = markSeen(cursor, { epoch: 1, seq });
      newest = Math.max(newest, seq);
    }
  });
});
