import {
  type Conv2d,
  type Dense,
  isWeightLayer,
  layerShapes,
  type Sequential,
  shapeSize,
} from "./model";

/** What backward needs from a forward pass: every layer's input and output, pool argmaxes. */
export interface Trace {
  n: number;
  shapes: number[][];
  inputs: Float32Array[];
  outputs: Float32Array[];
  argmax: Array<Int32Array | undefined>;
  /** Inverted-dropout scale applied to a layer's output (training only), 0 when none. */
  dropoutScale: number[];
}

export interface Grad {
  weight: Float32Array;
  bias: Float32Array;
}

export interface ForwardOptions {
  /** Inverted dropout on hidden dense ReLU outputs (training only). */
  dropout?: number;
  rng?: () => number;
}

export function forwardTrace(
  model: Sequential,
  x: Float32Array,
  n: number,
  opts: ForwardOptions = {},
): Trace {
  const shapes = layerShapes(model);
  const trace: Trace = { n, shapes, inputs: [], outputs: [], argmax: [], dropoutScale: [] };
  let cur = x;
  let inShape = model.inputShape;
  const last = model.layers.length - 1;
  model.layers.forEach((layer, li) => {
    trace.inputs.push(cur);
    let out: Float32Array;
    let argmax: Int32Array | undefined;
    switch (layer.kind) {
      case "dense":
        out = denseForward(layer, cur, n);
        break;
      case "conv2d":
        out = convForward(layer, cur, n, inShape[1], inShape[2]);
        break;
      case "maxpool2d":
        [out, argmax] = poolForward(layer.size, cur, n, inShape);
        break;
      case "flatten":
        out = cur;
        break;
      case "relu":
        out = new Float32Array(cur.length);
        for (let i = 0; i < cur.length; i++) out[i] = Math.max(0, cur[i]);
        break;
    }
    let scale = 0;
    if (
      opts.dropout &&
      opts.rng &&
      layer.kind === "dense" &&
      layer.activation === "relu" &&
      li < last
    ) {
      scale = 1 / (1 - opts.dropout);
      applyDropout(out, opts.dropout, scale, opts.rng);
    }
    trace.outputs.push(out);
    trace.argmax.push(argmax);
    trace.dropoutScale.push(scale);
    cur = out;
    inShape = shapes[li];
  });
  return trace;
}

function applyDropout(out: Float32Array, p: number, scale: number, rnd: () => number): void {
  for (let i = 0; i < out.length; i++) out[i] = rnd() < p ? 0 : out[i] * scale;
}

/** Logits for n examples (float32, n * classes). */
export function predict(model: Sequential, x: Float32Array, n: number): Float32Array {
  const t = forwardTrace(model, x, n);
  return t.outputs[t.outputs.length - 1];
}

export function denseForward(layer: Dense, x: Float32Array, n: number): Float32Array {
  const { inputs: I, outputs: O, weight: W, bias } = layer;
  const out = new Float32Array(n * O);
  for (let b = 0; b < n; b++) {
    const ob = b * O;
    out.set(bias, ob);
    const xb = b * I;
    for (let i = 0; i < I; i++) {
      const xi = x[xb + i];
      if (xi === 0) continue;
      const wi = i * O;
      for (let o = 0; o < O; o++) out[ob + o] += xi * W[wi + o];
    }
  }
  if (layer.activation === "relu") relu(out);
  return out;
}

function relu(a: Float32Array): void {
  for (let i = 0; i < a.length; i++) if (a[i] < 0) a[i] = 0;
}

export function convForward(
  layer: Conv2d,
  x: Float32Array,
  n: number,
  H: number,
  W: number,
): Float32Array {
  const { inChannels: C, outChannels: F, kernel: K, padding: P, weight, bias } = layer;
  const OH = H + 2 * P - K + 1;
  const OW = W + 2 * P - K + 1;
  const out = new Float32Array(n * F * OH * OW);
  for (let b = 0; b < n; b++) {
    for (let f = 0; f < F; f++) {
      const ob = (b * F + f) * OH * OW;
      out.fill(bias[f], ob, ob + OH * OW);
      for (let c = 0; c < C; c++) {
        const ib = (b * C + c) * H * W;
        for (let ky = 0; ky < K; ky++) {
          for (let kx = 0; kx < K; kx++) {
            const w = weight[((f * C + c) * K + ky) * K + kx];
            if (w === 0) continue;
            const x0 = Math.max(0, P - kx);
            const x1 = Math.min(OW, W + P - kx);
            for (let oy = Math.max(0, P - ky); oy < Math.min(OH, H + P - ky); oy++) {
              const row = ib + (oy + ky - P) * W + kx - P;
              const orow = ob + oy * OW;
              for (let ox = x0; ox < x1; ox++) out[orow + ox] += w * x[row + ox];
            }
          }
        }
      }
    }
  }
  if (layer.activation === "relu") relu(out);
  return out;
}

function poolForward(
  size: number,
  x: Float32Array,
  n: number,
  shape: number[],
): [Float32Array, Int32Array] {
  const [C, H, W] = shape;
  const OH = Math.floor(H / size);
  const OW = Math.floor(W / size);
  const out = new Float32Array(n * C * OH * OW);
  const arg = new Int32Array(out.length);
  let o = 0;
  for (let bc = 0; bc < n * C; bc++) {
    const base = bc * H * W;
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let best = -Infinity;
        let bi = 0;
        for (let ky = 0; ky < size; ky++) {
          for (let kx = 0; kx < size; kx++) {
            const idx = base + (oy * size + ky) * W + ox * size + kx;
            if (x[idx] > best) {
              best = x[idx];
              bi = idx;
            }
          }
        }
        out[o] = best;
        arg[o++] = bi;
      }
    }
  }
  return [out, arg];
}

export function zeroGrads(model: Sequential): Array<Grad | undefined> {
  return model.layers.map((l) =>
    isWeightLayer(l)
      ? { weight: new Float32Array(l.weight.length), bias: new Float32Array(l.bias.length) }
      : undefined,
  );
}

/**
 * Accumulates d(loss)/d(params) into `grads` given d(loss)/d(logits). `dLogits` is consumed
 * (modified in place).
 */
export function backward(
  model: Sequential,
  trace: Trace,
  dLogits: Float32Array,
  grads: Array<Grad | undefined>,
): void {
  const { n } = trace;
  let dOut = dLogits;
  for (let li = model.layers.length - 1; li >= 0; li--) {
    const layer = model.layers[li];
    const input = trace.inputs[li];
    const output = trace.outputs[li];
    const needInput = li > 0;
    const inShape = li > 0 ? trace.shapes[li - 1] : model.inputShape;
    switch (layer.kind) {
      case "dense":
        maskByActivation(dOut, output, layer.activation === "relu", trace.dropoutScale[li]);
        dOut = denseBackward(layer, input, dOut, n, grads[li]!, needInput);
        break;
      case "conv2d":
        maskByActivation(dOut, output, layer.activation === "relu", 0);
        dOut = convBackward(layer, input, dOut, n, inShape, grads[li]!, needInput);
        break;
      case "maxpool2d": {
        const dIn = new Float32Array(n * shapeSize(inShape));
        const arg = trace.argmax[li]!;
        for (let i = 0; i < dOut.length; i++) dIn[arg[i]] += dOut[i];
        dOut = dIn;
        break;
      }
      case "flatten":
        break;
      case "relu":
        maskByActivation(dOut, output, true, 0);
        break;
    }
  }
}

function maskByActivation(d: Float32Array, out: Float32Array, isRelu: boolean, scale: number) {
  if (!isRelu) return;
  // A dropped unit has output 0, so the ReLU mask also removes it; kept units carry the scale.
  if (scale) for (let i = 0; i < d.length; i++) d[i] = out[i] > 0 ? d[i] * scale : 0;
  else for (let i = 0; i < d.length; i++) if (!(out[i] > 0)) d[i] = 0;
}

function denseBackward(
  layer: Dense,
  x: Float32Array,
  dOut: Float32Array,
  n: number,
  g: Grad,
  needInput: boolean,
): Float32Array {
  const { inputs: I, outputs: O, weight: W } = layer;
  const gw = g.weight;
  const gb = g.bias;
  const dIn = needInput ? new Float32Array(n * I) : dOut;
  for (let b = 0; b < n; b++) {
    const ob = b * O;
    for (let o = 0; o < O; o++) gb[o] += dOut[ob + o];
    const xb = b * I;
    for (let i = 0; i < I; i++) {
      const xi = x[xb + i];
      const wi = i * O;
      if (xi !== 0) for (let o = 0; o < O; o++) gw[wi + o] += xi * dOut[ob + o];
      if (needInput) {
        let s = 0;
        for (let o = 0; o < O; o++) s += W[wi + o] * dOut[ob + o];
        dIn[xb + i] = s;
      }
    }
  }
  return dIn;
}

function convBackward(
  layer: Conv2d,
  x: Float32Array,
  dOut: Float32Array,
  n: number,
  inShape: number[],
  g: Grad,
  needInput: boolean,
): Float32Array {
  const { inChannels: C, outChannels: F, kernel: K, padding: P, weight } = layer;
  const [, H, W] = inShape;
  const OH = H + 2 * P - K + 1;
  const OW = W + 2 * P - K + 1;
  const dIn = needInput ? new Float32Array(n * C * H * W) : dOut;
  for (let b = 0; b < n; b++) {
    for (let f = 0; f < F; f++) {
      const ob = (b * F + f) * OH * OW;
      let sb = 0;
      for (let i = 0; i < OH * OW; i++) sb += dOut[ob + i];
      g.bias[f] += sb;
      for (let c = 0; c < C; c++) {
        const ib = (b * C + c) * H * W;
        for (let ky = 0; ky < K; ky++) {
          for (let kx = 0; kx < K; kx++) {
            const wi = ((f * C + c) * K + ky) * K + kx;
            const w = weight[wi];
            const x0 = Math.max(0, P - kx);
            const x1 = Math.min(OW, W + P - kx);
            let s = 0;
            for (let oy = Math.max(0, P - ky); oy < Math.min(OH, H + P - ky); oy++) {
              const row = ib + (oy + ky - P) * W + kx - P;
              const orow = ob + oy * OW;
              for (let ox = x0; ox < x1; ox++) {
                const d = dOut[orow + ox];
                s += d * x[row + ox];
                if (needInput) dIn[row + ox] += w * d;
              }
            }
            g.weight[wi] += s;
          }
        }
      }
    }
  }
  return dIn;
}
