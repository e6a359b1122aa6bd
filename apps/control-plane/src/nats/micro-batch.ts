// Items gathered and handed over in batches: when `maxItems` have arrived or `maxWaitMs` after the
// first of a batch, whichever comes first. One batch is written at a time; items arriving
// meanwhile gather into the next. Heartbeats and state reports arrive by the thousand during a
// rollout: one statement for many of them costs about what one of them would.
export interface MicroBatchOptions {
  /** Default 50 ms. */
  maxWaitMs?: number;
  /** Default 1,000. */
  maxItems?: number;
}

export class MicroBatch<T> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private readonly maxWaitMs: number;
  private readonly maxItems: number;

  /** `write` must not throw: it handles its own failures (logs, naks). */
  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    options: MicroBatchOptions = {},
  ) {
    this.maxWaitMs = options.maxWaitMs ?? 50;
    this.maxItems = options.maxItems ?? 1_000;
  }

  add(item: T): void {
    this.pending.push(item);
    if (this.pending.length >= this.maxItems) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
  }

  /** Items waiting or being written. */
  get size(): number {
    return this.pending.length;
  }

  /** Writes what is gathered, and waits for every write. */
  async close(): Promise<void> {
    this.flush();
    while (this.writing) await this.writing;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    this.writing = this.write(items).finally(() => {
      this.writing = undefined;
      // What arrived during the write goes out now if a batch filled, else on its own timer.
      if (this.pending.length >= this.maxItems) this.flush();
      else if (this.pending.length > 0)
        this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }
}
