// Pacing what thousands of devices do at once, so the simulator (or the server) is not the
// bottleneck it measures: a bounded number in flight, and timers spread over their period.

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return out;
}

/** Calls `fn` every `periodMs`, first after a random share of the period (devices spread). */
export function everyWithJitter(periodMs: number, fn: () => void, random = Math.random) {
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    fn();
    interval = setInterval(fn, periodMs);
  }, random() * periodMs);
  return () => {
    clearTimeout(first);
    clearInterval(interval);
  };
}
