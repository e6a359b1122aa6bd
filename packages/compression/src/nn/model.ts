import { createRng } from "./rng";

export type Activation = "relu" | "linear";

/** Fully connected layer. `weight` is [inputs, outputs] row-major: the ONNX MatMul layout. */
export interface Dense {
  kind: "dense";
  inputs: number;
  outputs: number;
  weight: Float32Array;
  bias: Float32Array;
  activation: Activation;
}

/** 2-D convolution, stride 1, square kernel, zero padding. `weight` is [out, in, k, k] (ONNX). */
export interface Conv2d {
  kind: "conv2d";
  inChannels: number;
  outChannels: number;
  kernel: number;
  padding: number;
  weight: Float32Array;
  bias: Float32Array;
  activation: Activation;
}

/** Max pooling with a square window and stride equal to the window. */
export interface MaxPool2d {
  kind: "maxpool2d";
  size: number;
}

export interface Flatten {
  kind: "flatten";
}

export interface Relu {
  kind: "relu";
}

export type Layer = Dense | Conv2d | MaxPool2d | Flatten | Relu;
export type WeightLayer = Dense | Conv2d;

/** A feed-forward stack. `inputShape` excludes the batch: [784] for MLPs, [1, 28, 28] for CNNs. */
export interface Sequential {
  inputShape: number[];
  layers: Layer[];
}

export class ModelShapeError extends Error {
  override name = "ModelShapeError";
}

export function isWeightLayer(layer: Layer): layer is WeightLayer {
  return layer.kind === "dense" || layer.kind === "conv2d";
}

/** Output shape (without batch) after each layer; throws on layers that do not fit together. */
export function layerShapes(model: Sequential): number[][] {
  let shape = model.inputShape;
  return model.layers.map((layer, i) => {
    shape = outputShape(layer, shape, i);
    return shape;
  });
}

function outputShape(layer: Layer, shape: number[], index: number): number[] {
  const fail = (msg: string) => new ModelShapeError(`layer ${index} (${layer.kind}): ${msg}`);
  switch (layer.kind) {
    case "dense":
      if (shape.length !== 1 || shape[0] !== layer.inputs) {
        throw fail(`expects [${layer.inputs}], got [${shape}]`);
      }
      return [layer.outputs];
    case "conv2d": {
      if (shape.length !== 3 || shape[0] !== layer.inChannels) {
        throw fail(`expects [${layer.inChannels}, H, W], got [${shape}]`);
      }
      const h = shape[1] + 2 * layer.padding - layer.kernel + 1;
      const w = shape[2] + 2 * layer.padding - layer.kernel + 1;
      if (h <= 0 || w <= 0) throw fail("kernel larger than input");
      return [layer.outChannels, h, w];
    }
    case "maxpool2d":
      if (shape.length !== 3) throw fail(`expects [C, H, W], got [${shape}]`);
      return [shape[0], Math.floor(shape[1] / layer.size), Math.floor(shape[2] / layer.size)];
    case "flatten":
      return [shape.reduce((a, b) => a * b, 1)];
    case "relu":
      return shape;
  }
}

export function shapeSize(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function outputSize(model: Sequential): number {
  const shapes = layerShapes(model);
  return shapeSize(shapes[shapes.length - 1] ?? model.inputShape);
}

export function parameterCount(model: Sequential): number {
  let total = 0;
  for (const layer of model.layers) {
    if (isWeightLayer(layer)) total += layer.weight.length + layer.bias.length;
  }
  return total;
}

/** Multiply-accumulates per example (the cost that structured pruning reduces). */
export function macsPerExample(model: Sequential): number {
  const shapes = layerShapes(model);
  let total = 0;
  model.layers.forEach((layer, i) => {
    if (layer.kind === "dense") total += layer.inputs * layer.outputs;
    if (layer.kind === "conv2d") {
      const [, h, w] = shapes[i];
      total += h * w * layer.outChannels * layer.inChannels * layer.kernel * layer.kernel;
    }
  });
  return total;
}

/** He-normal initialised dense layer (zero bias). */
export function dense(
  inputs: number,
  outputs: number,
  activation: Activation,
  rng = createRng(1),
): Dense {
  const weight = new Float32Array(inputs * outputs);
  const std = Math.sqrt(2 / inputs);
  for (let i = 0; i < weight.length; i++) weight[i] = rng.normal() * std;
  return { kind: "dense", inputs, outputs, weight, bias: new Float32Array(outputs), activation };
}

export function conv2d(
  inChannels: number,
  outChannels: number,
  kernel: number,
  opts: { padding?: number; activation?: Activation; rng?: ReturnType<typeof createRng> } = {},
): Conv2d {
  const rng = opts.rng ?? createRng(1);
  const fanIn = inChannels * kernel * kernel;
  const weight = new Float32Array(outChannels * fanIn);
  const std = Math.sqrt(2 / fanIn);
  for (let i = 0; i < weight.length; i++) weight[i] = rng.normal() * std;
  return {
    kind: "conv2d",
    inChannels,
    outChannels,
    kernel,
    padding: opts.padding ?? 0,
    weight,
    bias: new Float32Array(outChannels),
    activation: opts.activation ?? "relu",
  };
}

/**
 * An MLP: `widths` = [inputs, hidden..., outputs], ReLU between layers, linear logits.
 * E.g. LeNet-300-100 is createMlp([784, 300, 100, 10], seed).
 */
export function createMlp(widths: number[], seed: number): Sequential {
  if (widths.length < 2) throw new ModelShapeError("an MLP needs at least [inputs, outputs]");
  const rng = createRng(seed);
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const last = i + 2 === widths.length;
    layers.push(dense(widths[i], widths[i + 1], last ? "linear" : "relu", rng));
  }
  return { inputShape: [widths[0]], layers };
}

export interface CnnSpec {
  /** Output channels of each 5x5 conv (padding 2), each followed by ReLU + 2x2 max pool. */
  channels: number[];
  /** Hidden dense widths after flattening. */
  hidden: number[];
  classes?: number;
  kernel?: number;
}

/** A small LeNet-style CNN on [1, 28, 28] inputs. */
export function createCnn(spec: CnnSpec, seed: number): Sequential {
  const rng = createRng(seed);
  const kernel = spec.kernel ?? 5;
  const layers: Layer[] = [];
  let c = 1;
  let side = 28;
  for (const out of spec.channels) {
    layers.push(conv2d(c, out, kernel, { padding: (kernel - 1) >> 1, rng }));
    layers.push({ kind: "maxpool2d", size: 2 });
    c = out;
    side = Math.floor(side / 2);
  }
  layers.push({ kind: "flatten" });
  let width = c * side * side;
  for (const h of spec.hidden) {
    layers.push(dense(width, h, "relu", rng));
    width = h;
  }
  layers.push(dense(width, spec.classes ?? 10, "linear", rng));
  const model = { inputShape: [1, 28, 28], layers };
  layerShapes(model);
  return model;
}

export function cloneSequential(model: Sequential): Sequential {
  return {
    inputShape: [...model.inputShape],
    layers: model.layers.map((l) =>
      isWeightLayer(l) ? { ...l, weight: l.weight.slice(), bias: l.bias.slice() } : { ...l },
    ),
  };
}
