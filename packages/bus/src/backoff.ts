// Reconnect pacing: capped exponential backoff with "full jitter", so a fleet that lost its
// server does not reconnect in lockstep when it comes back.
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 10_000 };

/** Delay before attempt `attempt` (0-based); `random` is in [0, 1). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt));
  // Half fixed, half random: never hammers at 0 ms, still spreads clients apart.
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}

/**
 * State for nats.js: its delay handler is polled repeatedly between dials, so the delay must
 * stay put until the next dial actually happens (`onDial`), and reset once connected.
 */
export class ReconnectBackoff {
  private attempt = 0;
  private current: number | undefined;

  constructor(
    private readonly policy: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  delay(): number {
    this.current ??= backoffDelay(this.attempt, this.policy, this.random());
    return this.current;
  }

  onDial(): void {
    this.attempt++;
    this.current = undefined;
  }

  reset(): void {
    this.attempt = 0;
    this.current = undefined;
  }
}
