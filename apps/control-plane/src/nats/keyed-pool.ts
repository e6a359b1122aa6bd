// Runs tasks concurrently, at most `limit` at a time, and one at a time per key (a device's
// messages keep their order; different devices' go side by side). `submit` waits while the pool
// is full, so a consume loop that awaits it takes no more messages than it can work on.
export class KeyedPool {
  private running = 0;
  private readonly tails = new Map<string, Promise<void>>();
  private readonly slotFreed: (() => void)[] = [];
  private readonly drained: (() => void)[] = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error("limit must be a positive integer");
  }

  /** Resolves once the task is admitted (not when it finishes); the task must not throw. */
  async submit(key: string, task: () => Promise<void>): Promise<void> {
    while (this.running >= this.limit) await new Promise<void>((r) => this.slotFreed.push(r));
    this.running++;
    const previous = this.tails.get(key) ?? Promise.resolve();
    const mine = previous.then(task).finally(() => {
      if (this.tails.get(key) === mine) this.tails.delete(key);
      this.running--;
      this.slotFreed.shift()?.();
      if (this.running === 0) for (const d of this.drained.splice(0)) d();
    });
    this.tails.set(key, mine);
  }

  /** Resolves when nothing is running. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((r) => this.drained.push(r));
  }
}
