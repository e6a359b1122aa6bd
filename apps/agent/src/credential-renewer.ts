// Keeps the device's NATS user JWT alive (issue 11): renews it over gRPC at about 2/3 of its
// lifetime, proving possession of the device key; stores it atomically; hands it to the
// connection (read at every reconnect) and reconnects so the server holds the fresh one. The
// control plane down: retry with backoff until it answers. Revoked: stop and say so.
import { backoffDelay, DEFAULT_BACKOFF, decodeUserJwt, signRenewalProof } from "@edgefleet/bus";
import type { Logger } from "pino";
import type { DeviceIdentity, IdentityStore } from "./identity-store";

/** When to renew a JWT issued at `iat` that expires at `exp` (unix s): ms from `nowMs`. Pure. */
export function renewalDelayMs(
  claims: { iat?: number; exp?: number },
  nowMs: number,
  fraction = 2 / 3,
): number | undefined {
  if (!claims.exp) return undefined;
  const iat = claims.iat ?? Math.floor(nowMs / 1000);
  const at = (iat + (claims.exp - iat) * fraction) * 1000;
  return Math.max(0, Math.round(at - nowMs));
}

/** The control plane refused the renewal for good (revoked or unknown key). */
export class CredentialsRefusedError extends Error {
  override name = "CredentialsRefusedError";
}

export type RenewCall = (req: {
  deviceId: string;
  timestamp: number;
  signature: Uint8Array;
}) => Promise<{
  userJwt: string;
  expiresAt: number;
}>;

export interface CredentialRenewerDeps {
  identity: DeviceIdentity;
  seed: string;
  store: Pick<IdentityStore, "saveRenewedJwt">;
  renew: RenewCall;
  /** The new JWT is stored; the connection should use it (and reconnect). */
  onRenewed(userJwt: string): void;
  /** The control plane refused for good (decommissioned): no more attempts. */
  onRefused(err: Error): void;
  log: Logger;
}

export class CredentialRenewer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastAttemptAt = 0;
  private failures = 0;
  private stopped = false;
  private identity: DeviceIdentity;
  /** Renewals that succeeded, and attempts that failed and were retried (tests, logs). */
  renewals = 0;
  failedAttempts = 0;

  constructor(private readonly deps: CredentialRenewerDeps) {
    this.identity = deps.identity;
  }

  get userJwt(): string {
    return this.identity.userJwt;
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * The server refused the JWT (expired while the control plane was out of reach, or revoked):
   * try a renewal now rather than at the next scheduled time, at most once per `minGapMs`.
   */
  renewNow(minGapMs = 5_000): void {
    if (this.stopped || this.running || Date.now() - this.lastAttemptAt < minGapMs) return;
    clearTimeout(this.timer);
    void this.run();
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = renewalDelayMs(decodeUserJwt(this.identity.userJwt), Date.now());
    if (delay === undefined) return; // a JWT without expiry needs no renewal
    this.later(delay);
  }

  private later(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), ms);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    this.lastAttemptAt = Date.now();
    try {
      await this.attempt();
    } finally {
      this.running = false;
    }
  }

  private async attempt(): Promise<void> {
    const { deviceId } = this.identity;
    try {
      const res = await this.deps.renew(signRenewalProof(this.deps.seed, deviceId));
      if (this.stopped) return;
      this.identity = await this.deps.store.saveRenewedJwt(
        this.identity,
        this.deps.seed,
        res.userJwt,
      );
      this.failures = 0;
      this.renewals++;
      this.deps.log.info({ expiresAt: res.expiresAt }, "credentials renewed");
      this.deps.onRenewed(res.userJwt);
      this.schedule();
    } catch (err) {
      if (err instanceof CredentialsRefusedError) {
        this.stopped = true;
        this.deps.log.error({ err: err.message }, "credential renewal refused; not retrying");
        this.deps.onRefused(err);
        return;
      }
      this.failedAttempts++;
      const delayMs = backoffDelay(this.failures++, DEFAULT_BACKOFF, Math.random());
      this.deps.log.warn({ err: String(err), delayMs }, "credential renewal failed, retrying");
      this.later(delayMs);
    }
  }
}
