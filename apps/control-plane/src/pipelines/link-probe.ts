// The link between a device and the NATS server, measured, not assumed: the control plane times
// echoes of a small and a large payload on the device's rpc subject. The small one's round trip
// is the latency; the large one's extra time, with its bytes crossing twice, gives the bandwidth.
import type { LinkFigures } from "@edgefleet/pipeline";

export const PROBE_SMALL_BYTES = 64;
export const PROBE_LARGE_BYTES = 256 * 1024;
/** Above what loopback reaches; a large echo no slower than the small one gets this. */
const MAX_BYTES_PER_SECOND = 10e9;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Pure: the link figures from the round trips (ms) of small and large echoes. */
export function linkFromEchoes(
  small: { bytes: number; ms: readonly number[] },
  large: { bytes: number; ms: readonly number[] },
): LinkFigures {
  if (!small.ms.length || !large.ms.length) throw new RangeError("no echo timings");
  const rttMs = median(small.ms);
  const extraMs = median(large.ms) - rttMs;
  const bytes = 2 * (large.bytes - small.bytes);
  const bytesPerSecond =
    extraMs > 0 ? Math.min(MAX_BYTES_PER_SECOND, bytes / (extraMs / 1000)) : MAX_BYTES_PER_SECOND;
  return { rttMs, bytesPerSecond };
}

export interface EchoRpc {
  /** Sends `payload` to the device's echo op and resolves with the reply (throws on timeout). */
  echo(deviceId: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
}

export class LinkProbeError extends Error {
  override name = "LinkProbeError";
}

/** Alternates small and large echoes (`rounds` of each, after one warm-up pair). */
export async function probeLink(rpc: EchoRpc, deviceId: string, rounds = 5): Promise<LinkFigures> {
  const small = new Uint8Array(PROBE_SMALL_BYTES).fill(7);
  const large = new Uint8Array(PROBE_LARGE_BYTES).map((_, i) => i & 0xff);
  const times = { small: [] as number[], large: [] as number[] };
  for (let r = 0; r <= rounds; r++) {
    for (const [kind, payload] of [
      ["small", small],
      ["large", large],
    ] as const) {
      const t0 = performance.now();
      const reply = await rpc.echo(deviceId, payload, 5_000).catch((cause: unknown) => {
        throw new LinkProbeError(`device ${deviceId} did not answer the link probe`, { cause });
      });
      const ms = performance.now() - t0;
      if (reply.byteLength !== payload.byteLength) {
        throw new LinkProbeError(
          `device ${deviceId} echoed ${reply.byteLength} of ${payload.byteLength} bytes`,
        );
      }
      if (r > 0) times[kind].push(ms);
    }
  }
  return linkFromEchoes(
    { bytes: PROBE_SMALL_BYTES, ms: times.small },
    { bytes: PROBE_LARGE_BYTES, ms: times.large },
  );
}
