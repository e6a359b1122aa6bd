// Requests travelling through pipelines: each is answered once, by request id, whatever the
// number of attempts (a retry after a re-plan, a slow first attempt answering after the second).
// No IO: the caller sends attempts and feeds results in.

export interface InflightRequest {
  requestId: string;
  pipelineId: string;
  dims: number[];
  data: Float32Array;
  deadline: number;
  attempts: number;
  /** The plan the last attempt went to. */
  sentPlan: number;
  sentAt: number;
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: Error };

export class InflightRequests<T> {
  private readonly pending = new Map<
    string,
    InflightRequest & { settle: (s: Settled<T>) => void }
  >();
  /** Answers that arrived for a request already answered (or never sent): dropped. */
  duplicates = 0;

  start(r: Omit<InflightRequest, "attempts" | "sentPlan" | "sentAt">): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.set(r.requestId, {
        ...r,
        attempts: 0,
        sentPlan: 0,
        sentAt: 0,
        settle: (s) => (s.ok ? resolve(s.value) : reject(s.error)),
      });
    });
  }

  /** Records an attempt about to be sent; false when the request is no longer waiting. */
  attempt(requestId: string, plan: number, now: number): InflightRequest | undefined {
    const r = this.pending.get(requestId);
    if (!r) return undefined;
    r.attempts++;
    r.sentPlan = plan;
    r.sentAt = now;
    return r;
  }

  /** Settles once; later answers for the same id count as duplicates. */
  settle(requestId: string, s: Settled<T>): boolean {
    const r = this.pending.get(requestId);
    if (!r) {
      this.duplicates++;
      return false;
    }
    this.pending.delete(requestId);
    r.settle(s);
    return true;
  }

  /** Waiting requests of a pipeline. */
  of(pipelineId: string): InflightRequest[] {
    return [...this.pending.values()].filter((r) => r.pipelineId === pipelineId);
  }

  /** Requests due for another attempt (`retryMs` since the last) or past their deadline. */
  due(now: number, retryMs: number): { retry: InflightRequest[]; expired: InflightRequest[] } {
    const retry: InflightRequest[] = [];
    const expired: InflightRequest[] = [];
    for (const r of this.pending.values()) {
      if (now >= r.deadline) expired.push(r);
      else if (now - r.sentAt >= retryMs) retry.push(r);
    }
    return { retry, expired };
  }

  get size(): number {
    return this.pending.size;
  }
}
