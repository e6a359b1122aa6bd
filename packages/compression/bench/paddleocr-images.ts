/** Seeded pseudo-text: rows of dark strokes on a light background, CHW, Paddle-normalized. */
export function textImages(n: number, dims: number[], seed: number): Float32Array {
  const [c, h, w] = dims;
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const out = new Float32Array(n * c * h * w);
  for (let i = 0; i < n; i++) {
    const gray = new Float32Array(h * w).map(() => 225 + rnd() * 30);
    const lines = Math.max(1, Math.round(h / 48));
    for (let l = 0; l < lines; l++) {
      const top = Math.floor(((l + 0.25) * h) / lines);
      const height = Math.floor((0.5 * h) / lines);
      for (let x = Math.floor(rnd() * 8); x < w - 6; x += 4 + Math.floor(rnd() * 8)) {
        const sw = 1 + Math.floor(rnd() * 3);
        const y0 = top + Math.floor(rnd() * height * 0.4);
        const y1 = top + height - Math.floor(rnd() * height * 0.4);
        for (let y = y0; y < y1; y++)
          for (let k = 0; k < sw; k++) gray[y * w + x + k] = 20 + rnd() * 40;
        if (rnd() < 0.4)
          for (let k = 0; k < 5; k++) gray[(y0 + Math.floor(rnd() * (y1 - y0))) * w + x + k] = 30;
      }
    }
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) out[(i * c + ch) * h * w + p] = (gray[p] / 255 - 0.5) / 0.5;
    }
  }
  return out;
}
