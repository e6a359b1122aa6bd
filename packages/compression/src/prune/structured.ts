import {
  type Conv2d,
  cloneSequential,
  type Dense,
  isWeightLayer,
  layerShapes,
  type Sequential,
  type WeightLayer,
} from "../nn/model";

/** Kept output units (neurons of a dense layer, channels of a conv) per layer index. */
export type KeepUnits = Array<number[] | undefined>;

export class StructuredPruneError extends Error {
  override name = "StructuredPruneError";
}

interface Consumer {
  index: number;
  /** Inputs of the consumer per unit of the producer (H*W after a conv + flatten, else 1). */
  block: number;
}

/** The next weight layer that reads a layer's output, through ReLU/pool/flatten only. */
function consumerOf(model: Sequential, li: number): Consumer {
  const shapes = layerShapes(model);
  let block = 1;
  for (let j = li + 1; j < model.layers.length; j++) {
    const l = model.layers[j];
    if (isWeightLayer(l)) return { index: j, block };
    if (l.kind === "flatten") {
      const s = shapes[j - 1];
      block = s.length === 3 ? s[1] * s[2] : 1;
    }
  }
  throw new StructuredPruneError(`layer ${li} is the output layer: its units cannot be removed`);
}

/**
 * Rewrites the model with only the kept units of each listed layer: smaller dense layers and
 * thinner convs, so the exported graph really does less work. A removed unit whose incoming
 * weights are all zero outputs a constant act(bias); that constant is folded into the consumer's
 * bias, so removing such units changes no output (exact unless the consumer is a padded conv).
 */
export function removeUnits(model: Sequential, keep: KeepUnits): Sequential {
  const out = cloneSequential(model);
  keep.forEach((units, li) => {
    if (!units) return;
    const layer = out.layers[li];
    if (!isWeightLayer(layer)) throw new StructuredPruneError(`layer ${li} has no units`);
    const count = layer.kind === "dense" ? layer.outputs : layer.outChannels;
    const kept = [...new Set(units)].sort((a, b) => a - b);
    if (kept.some((u) => u < 0 || u >= count) || kept.length === 0) {
      throw new StructuredPruneError(`layer ${li}: kept units must be within [0, ${count})`);
    }
    const consumer = consumerOf(out, li);
    foldConstantUnits(out, li, kept, consumer);
    sliceInputs(out.layers[consumer.index] as WeightLayer, kept, consumer.block);
    sliceOutputs(layer, kept);
  });
  layerShapes(out);
  return out;
}

function foldConstantUnits(model: Sequential, li: number, kept: number[], c: Consumer): void {
  const layer = model.layers[li] as WeightLayer;
  const consumer = model.layers[c.index] as WeightLayer;
  const keptSet = new Set(kept);
  const count = layer.bias.length;
  const fan = layer.weight.length / count;
  for (let u = 0; u < count; u++) {
    if (keptSet.has(u) || !incomingIsZero(layer, u, fan)) continue;
    const value = layer.activation === "relu" ? Math.max(0, layer.bias[u]) : layer.bias[u];
    if (value === 0) continue;
    addConstantInput(consumer, u, c.block, value);
  }
}

function incomingIsZero(layer: WeightLayer, u: number, fan: number): boolean {
  if (layer.kind === "conv2d") {
    for (let i = u * fan; i < (u + 1) * fan; i++) if (layer.weight[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < layer.inputs; i++)
    if (layer.weight[i * layer.outputs + u] !== 0) return false;
  return true;
}

function addConstantInput(consumer: WeightLayer, u: number, block: number, value: number): void {
  if (consumer.kind === "dense") {
    for (let r = u * block; r < (u + 1) * block; r++) {
      for (let o = 0; o < consumer.outputs; o++) {
        consumer.bias[o] += value * consumer.weight[r * consumer.outputs + o];
      }
    }
    return;
  }
  const kk = consumer.kernel * consumer.kernel;
  for (let f = 0; f < consumer.outChannels; f++) {
    const base = (f * consumer.inChannels + u) * kk;
    let s = 0;
    for (let i = 0; i < kk; i++) s += consumer.weight[base + i];
    consumer.bias[f] += value * s;
  }
}

function sliceOutputs(layer: WeightLayer, kept: number[]): void {
  if (layer.kind === "dense") {
    const w = new Float32Array(layer.inputs * kept.length);
    for (let i = 0; i < layer.inputs; i++) {
      for (let k = 0; k < kept.length; k++)
        w[i * kept.length + k] = layer.weight[i * layer.outputs + kept[k]];
    }
    Object.assign(layer, { weight: w, outputs: kept.length });
  } else {
    const fan = layer.inChannels * layer.kernel * layer.kernel;
    const w = new Float32Array(kept.length * fan);
    kept.forEach((f, k) => {
      w.set(layer.weight.subarray(f * fan, (f + 1) * fan), k * fan);
    });
    Object.assign(layer, { weight: w, outChannels: kept.length });
  }
  layer.bias = Float32Array.from(kept, (u) => layer.bias[u]);
}

function sliceInputs(layer: WeightLayer, kept: number[], block: number): void {
  if (layer.kind === "dense") sliceDenseRows(layer, kept, block);
  else sliceConvInputs(layer, kept);
}

function sliceDenseRows(layer: Dense, kept: number[], block: number): void {
  const O = layer.outputs;
  const w = new Float32Array(kept.length * block * O);
  kept.forEach((u, k) => {
    w.set(layer.weight.subarray(u * block * O, (u + 1) * block * O), k * block * O);
  });
  layer.weight = w;
  layer.inputs = kept.length * block;
}

function sliceConvInputs(layer: Conv2d, kept: number[]): void {
  const kk = layer.kernel * layer.kernel;
  const w = new Float32Array(layer.outChannels * kept.length * kk);
  for (let f = 0; f < layer.outChannels; f++) {
    kept.forEach((c, k) => {
      const src = (f * layer.inChannels + c) * kk;
      w.set(layer.weight.subarray(src, src + kk), (f * kept.length + k) * kk);
    });
  }
  layer.weight = w;
  layer.inChannels = kept.length;
}

/**
 * Importance of each output unit of a hidden layer: L2 norm of its incoming weights and bias
 * times the L2 norm of its outgoing weights (a unit matters if it both responds and is listened to).
 */
export function unitImportance(model: Sequential, li: number): Float64Array {
  const layer = model.layers[li];
  if (!isWeightLayer(layer)) throw new StructuredPruneError(`layer ${li} has no units`);
  const c = consumerOf(model, li);
  const consumer = model.layers[c.index] as WeightLayer;
  const count = layer.bias.length;
  const incoming = new Float64Array(count);
  const outgoing = new Float64Array(count);
  if (layer.kind === "dense") {
    for (let i = 0; i < layer.inputs; i++) {
      for (let u = 0; u < count; u++) incoming[u] += layer.weight[i * count + u] ** 2;
    }
  } else {
    const fan = layer.weight.length / count;
    for (let i = 0; i < layer.weight.length; i++)
      incoming[Math.floor(i / fan)] += layer.weight[i] ** 2;
  }
  for (let u = 0; u < count; u++) incoming[u] += layer.bias[u] ** 2;
  if (consumer.kind === "dense") {
    const per = c.block * consumer.outputs;
    for (let i = 0; i < consumer.weight.length; i++)
      outgoing[Math.floor(i / per)] += consumer.weight[i] ** 2;
  } else {
    const kk = consumer.kernel * consumer.kernel;
    for (let i = 0; i < consumer.weight.length; i++) {
      outgoing[Math.floor(i / kk) % consumer.inChannels] += consumer.weight[i] ** 2;
    }
  }
  return incoming.map((v, u) => Math.sqrt(v) * Math.sqrt(outgoing[u]));
}

/**
 * Keeps the `fraction` most important units (at least 1) of every hidden weight layer, or the
 * count given per layer index, and rewrites the model into smaller dense layers / thinner convs.
 * Fine-tune the result afterwards (trainClassifier) to recover accuracy.
 */
export function pruneUnits(
  model: Sequential,
  opts: { keepFraction: number } | { keepCounts: Array<number | undefined> },
): Sequential {
  const weightLayers = model.layers.flatMap((l, i) => (isWeightLayer(l) ? [i] : []));
  const hidden = weightLayers.slice(0, -1);
  const keep: KeepUnits = model.layers.map(() => undefined);
  for (const li of hidden) {
    const count = (model.layers[li] as WeightLayer).bias.length;
    const target =
      "keepFraction" in opts ? Math.round(count * opts.keepFraction) : opts.keepCounts[li];
    if (target === undefined || target >= count) continue;
    const score = unitImportance(model, li);
    const order = [...score.keys()].sort((a, b) => score[b] - score[a] || a - b);
    keep[li] = order.slice(0, Math.max(1, target));
  }
  return removeUnits(model, keep);
}
