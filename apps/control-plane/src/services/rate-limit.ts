// Rate limits by GCRA (the generic cell rate algorithm): per key, one "theoretical arrival time"
// (TAT) instead of a bucket of tokens. `count` per `periodMs` with a burst of `count`: a quiet
// key may spend its whole allowance at once, then gets one more every periodMs / count. Pure:
// the clock is passed in, so tables of (time, key) -> decision test it.
import { BlockList, isIP } from "node:net";

export interface Rate {
  count: number;
  periodMs: number;
}

export type Decision = { ok: true } | { ok: false; retryAfterMs: number };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export const RATE_FORMAT = "must look like 120/1m: a count, '/', and a period in ms, s, m or h";

/** "120/1m" -> 120 per minute; "10/30s", "5/h" (period count defaults to 1). Throws RangeError. */
export function parseRate(text: string): Rate {
  const m = /^\s*(\d+)\s*\/\s*(\d*)\s*(ms|s|m|h)\s*$/.exec(text);
  const count = Number(m?.[1]);
  const periodMs = Number(m?.[2] || 1) * (UNITS[m?.[3] ?? ""] ?? Number.NaN);
  if (!m || !(count >= 1) || !(periodMs >= 1) || !Number.isSafeInteger(count)) {
    throw new RangeError(`"${text}" ${RATE_FORMAT}`);
  }
  return { count, periodMs };
}

/** 120/1m as it was written (for messages). */
export function formatRate(rate: Rate): string {
  const unit = Object.entries(UNITS)
    .reverse()
    .find(([, ms]) => rate.periodMs % ms === 0);
  const [name, ms] = unit ?? ["ms", 1];
  return `${rate.count}/${rate.periodMs / ms}${name}`;
}

export class GcraLimiter {
  private readonly intervalMs: number;
  private readonly toleranceMs: number;
  private readonly tat = new Map<string, number>();

  constructor(
    readonly rate: Rate,
    /** Above this many keys, keys whose allowance is whole again are forgotten. */
    private readonly maxKeys = 100_000,
  ) {
    this.intervalMs = rate.periodMs / rate.count;
    this.toleranceMs = rate.periodMs - this.intervalMs;
  }

  /** Takes one from `key`'s allowance at `nowMs`, or says how long until one is there. */
  take(key: string, nowMs: number): Decision {
    const tat = Math.max(this.tat.get(key) ?? nowMs, nowMs);
    const early = tat - nowMs - this.toleranceMs;
    if (early > 0) return { ok: false, retryAfterMs: Math.ceil(early) };
    if (!this.tat.has(key) && this.tat.size >= this.maxKeys) this.forgetIdle(nowMs);
    this.tat.set(key, tat + this.intervalMs);
    return { ok: true };
  }

  get keys(): number {
    return this.tat.size;
  }

  /** A key whose TAT has passed has its full allowance: the same as never seen. */
  private forgetIdle(nowMs: number): void {
    for (const [key, tat] of this.tat) if (tat <= nowMs) this.tat.delete(key);
  }
}

/**
 * Addresses and CIDR blocks ("127.0.0.0/8, ::1, 10.1.2.3"), for sources that are never limited.
 * Throws RangeError naming the first entry that is neither.
 */
export function parseAddressList(text: string): string[] {
  const entries = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) toBlock(new BlockList(), entry);
  return entries;
}

export function addressMatcher(entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) toBlock(list, entry);
  return (address) => {
    const plain = unmapIpv4(address);
    const family = isIP(plain);
    return family !== 0 && list.check(plain, family === 4 ? "ipv4" : "ipv6");
  };
}

function toBlock(list: BlockList, entry: string): void {
  const [address = "", prefix, extra] = entry.split("/");
  const family = isIP(address);
  const bits = prefix === undefined ? undefined : Number(prefix);
  const max = family === 4 ? 32 : 128;
  if (
    family === 0 ||
    extra !== undefined ||
    (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= max && prefix !== ""))
  ) {
    throw new RangeError(`"${entry}" is not an IP address or CIDR block (e.g. 10.0.0.0/8, ::1)`);
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  if (bits === undefined) list.addAddress(address, type);
  else list.addSubnet(address, bits, type);
}

/**
 * The address of a gRPC peer without the port: grpc-js gives `<remoteAddress>:<port>`, so IPv6
 * comes unbracketed ("::1:5000"); "[::1]:5000" and an "ipv4:"/"ipv6:" prefix are taken too.
 */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(bare);
  if (bracketed?.[1]) return unmapIpv4(bracketed[1]);
  const host = /^(.*):\d+$/.exec(bare)?.[1];
  return unmapIpv4(host !== undefined && isIP(host) ? host : bare);
}

/** ::ffff:10.0.0.1 (an IPv4 client on a dual-stack socket) is 10.0.0.1. */
function unmapIpv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}
