import { DDSketch } from "@datadog/sketches-js";
import type { LatencySummary } from "@edgefleet/protocol";
import {
  decodeSketch,
  encodeSketch,
  MAPPING,
  MAX_LATENCY_MS,
  MIN_LATENCY_MS,
  RELATIVE_ACCURACY,
} from "./codec";
import { InvalidLatencyError, SketchDecodeError } from "./errors";

/** What the sketch's protobuf does not carry; min and max are optional for the run sketch's row. */
export interface SketchStats {
  count: number;
  sum: number;
  min?: number | null;
  max?: number | null;
}

/**
 * A mergeable distribution of latencies in milliseconds (DDSketch, 1 % relative accuracy), with
 * exact count, sum, min and max beside it.
 */
export class LatencySketch {
  private dd = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });

  /** Throws InvalidLatencyError for a negative, non-finite or absurd (> 1e9 ms) value. */
  record(ms: number): void {
    if (!(ms >= 0 && ms <= MAX_LATENCY_MS)) throw new InvalidLatencyError(ms);
    this.dd.accept(ms < MIN_LATENCY_MS ? 0 : ms);
  }

  /** Adds `other` into this sketch; `other` is left as it was. */
  merge(other: LatencySketch): this {
    // sketches-js's DenseStore.merge widens its range with `_extendRange(minKey, maxKey)`, which
    // reads `maxKey || minKey`: when the other store's top key is 0 (values near 1 ms) the range
    // stops short of it, and that bin is counted but never read or written out. A zero-weight add
    // of that key widens the range first (a one-key extension is correct).
    const store = other.dd.store;
    if (store.count > 0 && this.dd.store.count > 0) this.dd.store.add(store.maxKey, 0);
    this.dd.merge(other.dd);
    return this;
  }

  /**
   * Within 1 % of the value at rank q * (count - 1); null when empty. The extremes are known
   * exactly, so q = 0 and q = 1 answer min and max, and no answer lies outside them.
   */
  quantile(q: number): number | null {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is outside [0, 1]`);
    const { count, min, max } = this.dd;
    if (count === 0) return null;
    if (q === 0) return min;
    if (q === 1) return max;
    return Math.min(max, Math.max(min, this.dd.getValueAtQuantile(q)));
  }

  get count(): number {
    return this.dd.count;
  }
  get sum(): number {
    return this.dd.sum;
  }
  get min(): number | null {
    return this.dd.count === 0 ? null : this.dd.min;
  }
  get max(): number | null {
    return this.dd.count === 0 ? null : this.dd.max;
  }

  /** The wire form; null when empty, since the schema wants count > 0. */
  toSummary(): LatencySummary | null {
    if (this.dd.count === 0) return null;
    const bytes = this.toBytes();
    return {
      sketch: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"),
      count: this.dd.count,
      sumMs: this.dd.sum,
      minMs: this.dd.min,
      maxMs: this.dd.max,
    };
  }

  /** Throws SketchDecodeError for bad base64, a bad sketch, or a count that disagrees. */
  static fromSummary(s: LatencySummary): LatencySketch {
    const stats = { count: s.count, sum: s.sumMs, min: s.minMs, max: s.maxMs };
    return LatencySketch.fromBytes(fromBase64(s.sketch), stats);
  }

  /** DDSketch protobuf (Postgres `Bytes`); count, sum, min and max are stored beside. */
  toBytes(): Uint8Array {
    const { store, zeroCount } = this.dd;
    if (store.count === 0) return encodeSketch({ offset: 0, bins: [], count: 0, zeroCount });
    const bins = store.bins.slice(store.minKey - store.offset, store.maxKey - store.offset + 1);
    return encodeSketch({ offset: store.minKey, bins, count: store.count, zeroCount });
  }

  /**
   * Throws SketchDecodeError when the bytes are not a sketch or hold another count than
   * `stats.count`. Without `min`/`max`, they are read from the outer bins (within 1 %).
   */
  static fromBytes(bytes: Uint8Array, stats: SketchStats): LatencySketch {
    const b = decodeSketch(bytes);
    const count = b.count + b.zeroCount;
    if (count !== stats.count) {
      throw new SketchDecodeError(`sketch holds ${count} values, its summary says ${stats.count}`);
    }
    const sketch = new LatencySketch();
    if (count === 0) return sketch;
    const { min = null, max = null, sum } = stats;
    if (!(sum >= 0 && sum < Number.POSITIVE_INFINITY)) {
      throw new SketchDecodeError(`sum ${sum} is not a finite non-negative number`);
    }
    if (min !== null && max !== null && !(min >= 0 && min <= max)) {
      throw new SketchDecodeError(`min ${min} and max ${max} are not 0 <= min <= max`);
    }

    const dd = sketch.dd;
    if (b.count > 0) {
      // The store's own fields, set as `add` would have left them (DenseStore allows any length).
      Object.assign(dd.store, {
        bins: b.bins,
        offset: b.offset,
        minKey: b.offset,
        maxKey: b.offset + b.bins.length - 1,
        count: b.count,
      });
    }
    dd.zeroCount = b.zeroCount;
    dd.count = count;
    dd.sum = sum;
    dd.min = min ?? (b.zeroCount > 0 ? 0 : MAPPING.value(b.offset));
    dd.max = max ?? (b.count > 0 ? MAPPING.value(b.offset + b.bins.length - 1) : 0);
    return sketch;
  }
}

/**
 * Buffer skips what is not base64 instead of failing, so a damaged string would decode to other
 * bytes in silence. Each skipped character shortens the output: the length tells (a regex costs
 * as much as the rest of the decode).
 */
function fromBase64(text: string): Uint8Array {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const bytes = Buffer.from(text, "base64");
  if (text.length % 4 !== 0 || bytes.length !== (text.length / 4) * 3 - padding) {
    throw new SketchDecodeError("sketch is not base64");
  }
  return bytes;
}
