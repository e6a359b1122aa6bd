import type { Rng } from "../nn/rng";

/**
 * Copies image `src` (side x side, one channel) into `dst` translated by a random integer offset
 * in [-shift, shift] on each axis, filling with 0. shift 0 is a plain copy.
 */
export function shiftImage(
  src: Float32Array,
  dst: Float32Array,
  side: number,
  shift: number,
  rng: Rng,
): void {
  if (shift === 0) {
    dst.set(src);
    return;
  }
  const dx = rng.int(2 * shift + 1) - shift;
  const dy = rng.int(2 * shift + 1) - shift;
  dst.fill(0);
  for (let y = Math.max(0, dy); y < Math.min(side, side + dy); y++) {
    const sr = (y - dy) * side - dx;
    const dr = y * side;
    for (let x = Math.max(0, dx); x < Math.min(side, side + dx); x++) dst[dr + x] = src[sr + x];
  }
}
