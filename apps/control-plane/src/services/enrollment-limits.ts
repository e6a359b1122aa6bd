// Enrollment rate limits (issue 11): per source address and per enrollment token, so neither a
// flood from one host nor a leaked token enrolls without bound. A refusal is audited; nothing
// else is stored (the limiters live in memory, per replica).
import { hashSecret, type Repos } from "@edgefleet/db";
import { RateLimitedError } from "../errors";
import { addressMatcher, formatRate, GcraLimiter, type Rate } from "./rate-limit";

export interface EnrollmentLimitsConfig {
  /** ENROLL_RATE_PER_SOURCE (default 120/1m). */
  perSource?: Rate;
  /** ENROLL_RATE_PER_TOKEN (default 600/1m). */
  perToken?: Rate;
  /** ENROLL_RATE_EXEMPT: addresses and CIDR blocks never limited (the local stack: loopback). */
  exempt?: string[];
}

export const DEFAULT_ENROLL_RATE_PER_SOURCE: Rate = { count: 120, periodMs: 60_000 };
export const DEFAULT_ENROLL_RATE_PER_TOKEN: Rate = { count: 600, periodMs: 60_000 };
/** A flood of refusals is audited as at most one event per key per second, with a count. */
const AUDIT_EVERY_MS = 1000;

export class EnrollmentLimits {
  private readonly perSource: GcraLimiter;
  private readonly perToken: GcraLimiter;
  private readonly exempt: (address: string) => boolean;
  /** Per limited key: when its last refusal was audited, and refusals since. */
  private readonly audited = new Map<string, { at: number; refusals: number }>();

  constructor(
    private readonly deps: {
      repos: Pick<Repos, "audit" | "enrollmentTokens">;
      config: EnrollmentLimitsConfig;
      now?: () => number;
    },
  ) {
    this.perSource = new GcraLimiter(deps.config.perSource ?? DEFAULT_ENROLL_RATE_PER_SOURCE);
    this.perToken = new GcraLimiter(deps.config.perToken ?? DEFAULT_ENROLL_RATE_PER_TOKEN);
    this.exempt = addressMatcher(deps.config.exempt ?? []);
  }

  /** Throws RateLimitedError (audited) when `source` or `token` is over its limit. */
  async admit(source: string, token: string): Promise<void> {
    if (this.exempt(source)) return;
    const now = this.deps.now?.() ?? Date.now();
    const bySource = this.perSource.take(`source:${source}`, now);
    if (!bySource.ok) {
      return this.refuse(now, bySource.retryAfterMs, {
        limit: "ENROLL_RATE_PER_SOURCE",
        rate: this.perSource.rate,
        key: `source:${source}`,
        actor: () => Promise.resolve(`source:${source}`),
        what: `from ${source}`,
        source,
      });
    }
    const tokenKey = `token:${hashSecret(token)}`;
    const byToken = this.perToken.take(tokenKey, now);
    if (!byToken.ok) {
      return this.refuse(now, byToken.retryAfterMs, {
        limit: "ENROLL_RATE_PER_TOKEN",
        rate: this.perToken.rate,
        key: tokenKey,
        actor: async () => {
          const id = await this.deps.repos.enrollmentTokens.idOf(token);
          return `enrollment_token:${id ?? "unknown"}`;
        },
        what: "with this enrollment token",
        source,
      });
    }
  }

  private async refuse(
    now: number,
    retryAfterMs: number,
    r: {
      limit: string;
      rate: Rate;
      key: string;
      actor: () => Promise<string>;
      what: string;
      source: string;
    },
  ): Promise<never> {
    const reason = `enrollment rate limit ${r.limit} (${formatRate(r.rate)}) exceeded ${r.what}`;
    const seen = this.audited.get(r.key) ?? { at: Number.NEGATIVE_INFINITY, refusals: 0 };
    seen.refusals++;
    if (now - seen.at >= AUDIT_EVERY_MS) {
      const actor = await r.actor();
      await this.deps.repos.audit.append({
        actor,
        action: "enrollment.refused",
        subjectType: "enrollment",
        subjectId: actor,
        data: { reason, limit: r.limit, source: r.source, retryAfterMs, refusals: seen.refusals },
      });
      seen.at = now;
      seen.refusals = 0;
    }
    if (this.audited.size > 10_000) this.audited.clear();
    this.audited.set(r.key, seen);
    throw new RateLimitedError(`${reason}; retry in ${retryAfterMs} ms`, retryAfterMs);
  }
}
