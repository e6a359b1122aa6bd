// Which telemetry messages of a device were folded: the newest (epoch, seq) and a window of the
// SEEN_WINDOW seqs at and below it. A high-water mark alone took a message redelivered after a
// newer one was folded (a control plane killed with a batch in flight, a replica folding the
// next batch first) for a duplicate, and lost it; the window folds it, once.

/** How many seqs below the newest are remembered one by one (a bit each). */
export const SEEN_WINDOW = 1024;
const SEEN_BYTES = SEEN_WINDOW / 8;

/**
 * The newest (epoch, seq) folded for a device. `seen` bit i (byte i >> 3, bit i & 7) says whether
 * seq - i of that epoch was folded; absent (a cursor stored before the window existed), every
 * seq at or below `seq` counts as folded.
 */
export interface Cursor {
  epoch: number;
  seq: number;
  seen?: Uint8Array | null;
}

type Position = { epoch: number; seq: number };

/** Lexicographic: negative when `a` is older than `b`. */
export function compareCursor(a: Position, b: Position): number {
  return a.epoch - b.epoch || a.seq - b.seq;
}

/**
 * Whether the message at `m` was folded already. Older than the window, or of an older epoch
 * (the agent sends its buffer in order, so those went before the newest), counts as folded.
 */
export function hasSeen(cursor: Cursor | undefined, m: Position): boolean {
  if (!cursor || m.epoch > cursor.epoch) return false;
  if (m.epoch < cursor.epoch) return true;
  const back = cursor.seq - m.seq;
  if (back < 0) return false;
  if (back >= SEEN_WINDOW || !cursor.seen) return true;
  return bit(cursor.seen, back);
}

/** The cursor once `m` is folded too (a new value: `cursor` is left as it was). */
export function markSeen(cursor: Cursor | undefined, m: Position): Cursor {
  if (!cursor || m.epoch > cursor.epoch) return { epoch: m.epoch, seq: m.seq, seen: only(0) };
  if (m.epoch < cursor.epoch) return cursor;
  const seen = cursor.seen ?? new Uint8Array(SEEN_BYTES).fill(0xff);
  const back = cursor.seq - m.seq;
  if (back < 0) {
    const moved = shiftedUp(seen, -back);
    moved[0] = (moved[0] ?? 0) | 1;
    return { epoch: m.epoch, seq: m.seq, seen: moved };
  }
  if (back >= SEEN_WINDOW) return cursor;
  const out = new Uint8Array(seen);
  out[back >> 3] = (out[back >> 3] ?? 0) | (1 << (back & 7));
  return { epoch: cursor.epoch, seq: cursor.seq, seen: out };
}

function bit(seen: Uint8Array, i: number): boolean {
  return i >> 3 < seen.length && ((seen[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

function only(i: number): Uint8Array {
  const out = new Uint8Array(SEEN_BYTES);
  out[i >> 3] = 1 << (i & 7);
  return out;
}

/** Bit i moves to i + k; bits pushed past the window are dropped. */
function shiftedUp(seen: Uint8Array, k: number): Uint8Array {
  const out = new Uint8Array(SEEN_BYTES);
  if (k >= SEEN_WINDOW) return out;
  const bytes = k >> 3;
  const bits = k & 7;
  for (let j = SEEN_BYTES - 1; j >= bytes; j--) {
    const lo = seen[j - bytes] ?? 0;
    const below = j - bytes - 1 >= 0 ? (seen[j - bytes - 1] ?? 0) : 0;
    out[j] = bits === 0 ? lo : ((lo << bits) | (below >> (8 - bits))) & 0xff;
  }
  return out;
}
