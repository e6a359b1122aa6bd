export interface OfflineBufferOptions<T> {
  /**
   * How many earlier drops an item reports (its `droppedBefore`). When that item is dropped in
   * turn, its count comes back to the counter, so no drop goes unreported.
   */
  carried?: (item: T) => number;
}

/**
 * Messages not yet acknowledged, oldest first, at most `capacity` of them. When full, the oldest
 * goes: recent telemetry is worth more than old. Send `peek()`, and `shift()` after its ack, so
 * the control plane sees each device's messages in order (its cursor drops anything older).
 */
export class OfflineBuffer<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private length = 0;
  private dropped = 0;

  constructor(
    readonly capacity: number,
    private readonly options: OfflineBufferOptions<T> = {},
  ) {
    if (!(Number.isInteger(capacity) && capacity > 0)) {
      throw new RangeError(`capacity ${capacity} is not a positive integer`);
    }
    this.items = new Array(capacity);
  }

  push(item: T): void {
    if (this.length === this.capacity) {
      const oldest = this.shift() as T;
      this.dropped += 1 + (this.options.carried?.(oldest) ?? 0);
    }
    this.items[(this.head + this.length) % this.capacity] = item;
    this.length++;
  }

  peek(): T | undefined {
    return this.length === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined; // let it be collected
    this.head = (this.head + 1) % this.capacity;
    this.length--;
    return item;
  }

  get size(): number {
    return this.length;
  }

  /** Drops since the last call: the next message's `droppedBefore`. */
  takeDropped(): number {
    const n = this.dropped;
    this.dropped = 0;
    return n;
  }
}
