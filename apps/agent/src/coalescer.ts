// One run at a time, and nothing lost: a call that arrives during a run schedules exactly one
// more run after it (calls during that one merge into it too), like balena-supervisor's applies.
// The running flag is cleared in the same synchronous step as the last check for more, so a
// call can never join a run that has already stopped looking.
export class Coalescer {
  private active = false;
  private again = false;
  private current: Promise<void> = Promise.resolve();

  constructor(private readonly work: () => Promise<void>) {}

  /** Resolves when the run this call belongs to (including a merged re-run) is over. */
  run(): Promise<void> {
    if (this.active) {
      this.again = true;
      return this.current;
    }
    this.active = true;
    this.current = (async () => {
      try {
        do {
          this.again = false;
          await this.work();
        } while (this.again);
      } finally {
        this.active = false;
      }
    })();
    return this.current;
  }

  get busy(): boolean {
    return this.active;
  }
}
