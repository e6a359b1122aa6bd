// Keeps (or waits for) a lease, so one control-plane process at a time runs the controllers. The
// lease row's epoch is the fencing token: every controller write is checked against it in its
// own transaction, so a process that stalled past its lease cannot write after a rival took over.
import type { Fence, Repos } from "@edgefleet/db";
import type { Logger } from "pino";

export interface LeaseKeeperOptions {
  name: string;
  /** Who holds it: unique per process. */
  holder: string;
  ttlMs: number;
  /** How often to renew (when held) or try to take it (when not); default ttl / 3. */
  everyMs?: number;
}

export class LeaseKeeper {
  private fence: Fence | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(held: boolean) => void>();

  constructor(
    private readonly repo: Pick<Repos["rollouts"], "acquireLease" | "renewLease" | "releaseLease">,
    private readonly options: LeaseKeeperOptions,
    private readonly logger: Logger,
  ) {}

  /** The lease while this process holds it. */
  current(): Fence | undefined {
    return this.fence;
  }

  onChange(listener: (held: boolean) => void): void {
    this.listeners.add(listener);
  }

  async start(): Promise<void> {
    await this.beat();
    const every = this.options.everyMs ?? Math.max(50, this.options.ttlMs / 3);
    this.timer = setInterval(() => void this.beat(), every);
  }

  /** `release: false` leaves the lease to expire, as a crashed process would. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    clearInterval(this.timer);
    const fence = this.fence;
    this.set(undefined);
    if (fence && opts.release !== false) await this.repo.releaseLease(fence).catch(() => {});
  }

  private async beat(): Promise<void> {
    const { name, holder, ttlMs } = this.options;
    try {
      if (this.fence) {
        if (!(await this.repo.renewLease(this.fence, ttlMs))) {
          this.logger.warn({ lease: name, epoch: this.fence.epoch }, "lease lost");
          this.set(undefined);
        }
        return;
      }
      const got = await this.repo.acquireLease(name, holder, ttlMs);
      if (got) {
        this.logger.info({ lease: name, epoch: got.epoch }, "lease taken");
        this.set(got);
      }
    } catch (err) {
      // The database is away: behave as if the lease were lost; fenced writes would fail anyway.
      this.logger.warn({ err: String(err), lease: name }, "lease not renewed");
      this.set(undefined);
    }
  }

  private set(fence: Fence | undefined): void {
    const changed = Boolean(fence) !== Boolean(this.fence);
    this.fence = fence;
    if (changed) for (const l of this.listeners) l(Boolean(fence));
  }
}
