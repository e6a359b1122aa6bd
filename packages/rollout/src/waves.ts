// Which devices go in which wave. Pure.
import type { WaveSize } from "./strategy";

export interface WaveDevice {
  id: string;
  deviceClass: string | null;
}

/**
 * Cumulative wave sizes for `total` devices: each wave at least one device more than the one
 * before (while any are left), the last one everyone. `["1%", "10%", "100%"]` of 50 devices is
 * [1, 5, 50]: a share of 1 % of 50 is 0.5, rounded up so the first wave is never empty.
 */
export function waveBoundaries(sizes: readonly WaveSize[], total: number): number[] {
  const out: number[] = [];
  let previous = 0;
  for (const size of sizes) {
    if (previous >= total) break;
    const want = "percent" in size ? Math.ceil((size.percent / 100) * total) : size.count;
    const upTo = Math.min(total, Math.max(previous + 1, want));
    out.push(upTo);
    previous = upTo;
  }
  if (previous < total) out.push(total);
  return out;
}

/** FNV-1a: a stable, well-spread order that does not depend on when devices enrolled. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Devices in wave order: classes interleaved (so every wave, the first included, has each class
 * in its share and the gates judge every class early), and a stable pseudo-random order within a
 * class (so the first wave is not always the oldest devices). Returns the wave of each device.
 */
export function assignWaves(
  devices: readonly WaveDevice[],
  sizes: readonly WaveSize[],
  seed = "",
): Map<string, number> {
  const byClass = new Map<string, WaveDevice[]>();
  for (const d of devices) {
    const key = d.deviceClass ?? "";
    byClass.set(key, [...(byClass.get(key) ?? []), d]);
  }
  const queues = [...byClass.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, list]) => list.sort((a, b) => hash(seed + a.id) - hash(seed + b.id)));
  // Round-robin in proportion: take from the class furthest behind its share.
  const ordered: WaveDevice[] = [];
  const taken = queues.map(() => 0);
  for (let n = 0; n < devices.length; n++) {
    let pick = -1;
    let lag = Number.POSITIVE_INFINITY;
    queues.forEach((q, i) => {
      if (taken[i] >= q.length) return;
      const share = taken[i] / q.length;
      if (share < lag) {
        lag = share;
        pick = i;
      }
    });
    ordered.push(queues[pick][taken[pick]++]);
  }
  const bounds = waveBoundaries(sizes, ordered.length);
  const waves = new Map<string, number>();
  let wave = 0;
  ordered.forEach((d, i) => {
    while (i >= bounds[wave]) wave++;
    waves.set(d.id, wave);
  });
  return waves;
}
