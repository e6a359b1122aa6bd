// Device ids whose heartbeat arrived, gathered and handed over in batches: when `maxIds` have
// arrived or `maxWaitMs` after the first of a batch, whichever comes first. One batch is written
// at a time; ids arriving meanwhile gather into the next (a device beating twice counts once).
export interface HeartbeatBatchOptions {
  /** Default 250 ms: a device is marked seen at most this late (its timeout is tens of seconds). */
  maxWaitMs?: number;
  /** Default 5,000. */
  maxIds?: number;
}

export class HeartbeatBatch {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private readonly maxWaitMs: number;
  private readonly maxIds: number;

  constructor(
    private readonly write: (ids: string[]) => Promise<void>,
    options: HeartbeatBatchOptions = {},
  ) {
    this.maxWaitMs = options.maxWaitMs ?? 250;
    this.maxIds = options.maxIds ?? 5_000;
  }

  add(deviceId: string): void {
    this.pending.add(deviceId);
    if (this.pending.size >= this.maxIds) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
  }

  /** Writes what is gathered, and waits for every write. */
  async close(): Promise<void> {
    this.flush();
    while (this.writing) await this.writing;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending = new Set();
    this.writing = this.write(ids).finally(() => {
      this.writing = undefined;
      // What arrived during the write goes out now if a batch filled, else on its own timer.
      if (this.pending.size >= this.maxIds) this.flush();
      else if (this.pending.size > 0) this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }
}
