import { DataType, GraphBuilder } from "@edgefleet/onnx";
import { layerShapes, ModelShapeError, type Sequential } from "./model";

export const ONNX_INPUT = "input";
export const ONNX_OUTPUT = "logits";

/**
 * Exports a Sequential as an ONNX model (opset 17): Dense -> MatMul(x, W[in,out]) + Add(b)
 * (+ Relu), Conv2d -> Conv (+ Relu), MaxPool2d -> MaxPool, Flatten -> Flatten(axis 1).
 * Input `input` is [N, ...inputShape] float32, output `logits` is [N, classes].
 */
export function exportOnnx(model: Sequential): Uint8Array {
  const shapes = layerShapes(model);
  if (model.layers.length === 0) throw new ModelShapeError("cannot export a model with no layers");
  const g = new GraphBuilder();
  let cur = g.input(ONNX_INPUT, DataType.FLOAT, ["N", ...model.inputShape]);
  model.layers.forEach((layer, i) => {
    const p = `layer${i}`;
    switch (layer.kind) {
      case "dense": {
        const w = g.initializer(
          `${p}.weight`,
          DataType.FLOAT,
          [layer.inputs, layer.outputs],
          layer.weight,
        );
        const b = g.initializer(`${p}.bias`, DataType.FLOAT, [layer.outputs], layer.bias);
        [cur] = g.node("MatMul", [cur, w], 1, { name: `${p}.matmul` });
        [cur] = g.node("Add", [cur, b], 1, { name: `${p}.add` });
        if (layer.activation === "relu") [cur] = g.node("Relu", [cur], 1, { name: `${p}.relu` });
        break;
      }
      case "conv2d": {
        const { outChannels: F, inChannels: C, kernel: K, padding: P } = layer;
        const w = g.initializer(`${p}.weight`, DataType.FLOAT, [F, C, K, K], layer.weight);
        const b = g.initializer(`${p}.bias`, DataType.FLOAT, [F], layer.bias);
        [cur] = g.node("Conv", [cur, w, b], 1, {
          name: `${p}.conv`,
          attrs: { kernel_shape: [K, K], pads: [P, P, P, P], strides: [1, 1] },
        });
        if (layer.activation === "relu") [cur] = g.node("Relu", [cur], 1, { name: `${p}.relu` });
        break;
      }
      case "maxpool2d":
        [cur] = g.node("MaxPool", [cur], 1, {
          name: `${p}.maxpool`,
          attrs: { kernel_shape: [layer.size, layer.size], strides: [layer.size, layer.size] },
        });
        break;
      case "flatten":
        [cur] = g.node("Flatten", [cur], 1, { name: `${p}.flatten`, attrs: { axis: 1 } });
        break;
      case "relu":
        [cur] = g.node("Relu", [cur], 1, { name: `${p}.relu` });
        break;
    }
  });
  // Name the last tensor `logits` instead of adding an Identity node.
  const last = g.nodes[g.nodes.length - 1];
  last.output = [ONNX_OUTPUT];
  g.output(ONNX_OUTPUT, DataType.FLOAT, ["N", ...shapes[shapes.length - 1]]);
  return g.toBytes({ graphName: "edgefleet_sequential" });
}
