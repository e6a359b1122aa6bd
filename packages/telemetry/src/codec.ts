// The DDSketch protobuf (DataDog/sketches-proto `DDSketch`, as sketches-js and the Go and Python
// libraries write it), read and written here rather than through sketches-js's toProto/fromProto:
// - fromProto trusts its input: a device could send another mapping (merging it would be silently
//   wrong), negative bins, NaN counts, or keys far apart (a merge then allocates the gap);
// - toProto writes its padded chunks of 128 bins, about twice the bytes of the occupied range;
// - fromProto replays every bin through `add`, about 10x slower than filling an array.
// The wire stays the standard message, so either side can still use any DDSketch library.
import { DDSketch } from "@datadog/sketches-js";
import { Reader, Writer } from "protobufjs/minimal.js";
import { SketchDecodeError } from "./errors";

export const RELATIVE_ACCURACY = 0.01;
/** Below a nanosecond is clock noise: such values go to the zero bucket. */
export const MIN_LATENCY_MS = 1e-6;
/** About 11.6 days. Bounding the keys bounds what a merge of two sketches can allocate. */
export const MAX_LATENCY_MS = 1e9;

export const MAPPING = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY }).mapping;
const MIN_KEY = MAPPING.key(MIN_LATENCY_MS);
const MAX_KEY = MAPPING.key(MAX_LATENCY_MS);

/** The positive bins of a sketch: `bins[i]` counts key `offset + i`; both ends non-zero. */
export interface SketchBins {
  offset: number;
  bins: number[];
  /** Sum of `bins`. */
  count: number;
  zeroCount: number;
}

// One writer for every encode: a fresh one starts at 128 bytes and doubles its way to a sketch's
// kilobyte. `finish` copies the bytes out, and encoding numbers cannot throw halfway.
const w = Writer.create();

export function encodeSketch(b: SketchBins): Uint8Array {
  w.reset();
  // IndexMapping: gamma only; indexOffset 0 and interpolation NONE are the proto defaults.
  w.uint32(10).fork().uint32(9).double(MAPPING.gamma).ldelim();
  w.uint32(18).fork();
  if (b.bins.length > 0) w.uint32(18).doubles(b.bins).uint32(24).sint32(b.offset);
  w.ldelim();
  // An empty negative store: sketches-js's fromProto rejects a sketch without one.
  w.uint32(26).fork().ldelim();
  if (b.zeroCount > 0) w.uint32(33).double(b.zeroCount);
  return w.finish();
}

/** Throws SketchDecodeError for anything but a 1 % log-mapped sketch of latencies in range. */
export function decodeSketch(bytes: Uint8Array): SketchBins {
  try {
    return readSketch(new Reader(bytes));
  } catch (err) {
    if (err instanceof SketchDecodeError) throw err;
    throw new SketchDecodeError(`malformed DDSketch protobuf: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function readSketch(r: Reader): SketchBins {
  let mapped = false;
  let positive: SketchBins = { offset: 0, bins: [], count: 0, zeroCount: 0 };
  let zeroCount = 0;
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      readMapping(r, r.uint32());
      mapped = true;
    } else if (field === 2 && wire === 2) {
      positive = readStore(r, r.uint32());
    } else if (field === 3 && wire === 2) {
      // DDSketch.merge in sketches-js ignores negative stores, and latencies are never negative.
      if (readStore(r, r.uint32()).count > 0) throw new SketchDecodeError("negative latencies");
    } else if (field === 4 && wire === 1) {
      zeroCount = r.double();
    } else {
      r.skipType(wire);
    }
  }
  if (!mapped) throw new SketchDecodeError("no index mapping");
  if (!isCount(zeroCount)) throw new SketchDecodeError(`zero count ${zeroCount}`);
  positive.zeroCount = zeroCount;
  return positive;
}

function readMapping(r: Reader, length: number): void {
  const end = endOf(r, length);
  let gamma = 0;
  let indexOffset = 0;
  let interpolation = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 9) gamma = r.double();
    else if (tag === 17) indexOffset = r.double();
    else if (tag === 24) interpolation = r.int32();
    else r.skipType(tag & 7);
  }
  ended(r, end);
  // Bins of another mapping land on other keys: merging them would be wrong without an error.
  if (Math.abs(gamma - MAPPING.gamma) > 1e-12 || indexOffset !== 0 || interpolation !== 0) {
    throw new SketchDecodeError(
      `index mapping (gamma ${gamma}, offset ${indexOffset}, interpolation ${interpolation}) ` +
        `is not the ${RELATIVE_ACCURACY * 100} % logarithmic one`,
    );
  }
}

function readStore(r: Reader, length: number): SketchBins {
  const end = endOf(r, length);
  const contiguous: number[] = [];
  const sparse: number[] = []; // key, count, key, count...
  let offset = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 10) readMapEntry(r, sparse);
    else if (tag === 18) r.doubles(contiguous);
    else if (tag === 17) contiguous.push(r.double());
    else if (tag === 24) offset = r.sint32();
    else r.skipType(tag & 7);
  }
  ended(r, end);

  // Plain loops, no closure: this runs for every sketch of every message.
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let count = 0;
  for (let i = 0; i < contiguous.length; i++) {
    const c = contiguous[i];
    if (!isCount(c)) throw new SketchDecodeError(`bin ${offset + i} has count ${c}`);
    if (c === 0) continue;
    if (offset + i < lo) lo = offset + i;
    hi = offset + i;
    count += c;
  }
  for (let i = 0; i < sparse.length; i += 2) {
    const c = sparse[i + 1];
    if (!isCount(c)) throw new SketchDecodeError(`bin ${sparse[i]} has count ${c}`);
    if (c === 0) continue;
    if (sparse[i] < lo) lo = sparse[i];
    if (sparse[i] > hi) hi = sparse[i];
    count += c;
  }
  if (count === 0) return { offset: 0, bins: [], count: 0, zeroCount: 0 };
  if (lo < MIN_KEY || hi > MAX_KEY) {
    throw new SketchDecodeError(
      `bins ${lo}..${hi} reach beyond ${MIN_LATENCY_MS}..${MAX_LATENCY_MS} ms`,
    );
  }

  let bins: number[];
  if (lo >= offset && hi < offset + contiguous.length) {
    bins =
      lo === offset && hi === offset + contiguous.length - 1
        ? contiguous
        : contiguous.slice(lo - offset, hi - offset + 1);
  } else {
    bins = new Array(hi - lo + 1).fill(0);
    for (let i = 0; i < contiguous.length; i++)
      if (contiguous[i] > 0) bins[offset + i - lo] = contiguous[i];
  }
  for (let i = 0; i < sparse.length; i += 2) bins[sparse[i] - lo] += sparse[i + 1];
  return { offset: lo, bins, count, zeroCount: 0 };
}

function readMapEntry(r: Reader, into: number[]): void {
  const end = endOf(r, r.uint32());
  let key = 0;
  let count = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 8) key = r.sint32();
    else if (tag === 17) count = r.double();
    else r.skipType(tag & 7);
  }
  ended(r, end);
  into.push(key, count);
}

function isCount(c: number): boolean {
  return c >= 0 && c < Number.POSITIVE_INFINITY;
}

function endOf(r: Reader, length: number): number {
  const end = r.pos + length;
  if (end > r.len) throw new SketchDecodeError(`field of ${length} bytes overruns the message`);
  return end;
}

function ended(r: Reader, end: number): void {
  if (r.pos !== end) throw new SketchDecodeError("field overruns its length");
}
