/** Polls `probe` until it returns something other than undefined, or fails naming `what` (after 15 s by default: CI runs two suites at once on 2 cores). */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 15_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
