// A shard's model output as a result carries it: per input, the top class and the scores.
export class ShardOutputError extends Error {
  override name = "ShardOutputError";
}

export function argmaxAndScores(
  data: Float32Array,
  count: number,
): { classes: number; argmax: number[]; scores: number[] } {
  if (count < 1 || data.length === 0 || data.length % count !== 0) {
    throw new ShardOutputError(`the model gave ${data.length} values for ${count} inputs`);
  }
  const classes = data.length / count;
  const argmax: number[] = new Array(count);
  for (let r = 0; r < count; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++)
      if (data[r * classes + c] > data[r * classes + best]) best = c;
    argmax[r] = best;
  }
  // Rounded to float32 already; JSON keeps what the model said.
  return { classes, argmax, scores: Array.from(data) };
}
