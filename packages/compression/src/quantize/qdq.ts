import {
  DataType,
  type ModelProto,
  makeNode,
  makeTensor,
  type NodeProto,
  type TensorProto,
  upgradeOpset,
} from "@edgefleet/onnx";
import type { ChannelQuant } from "./qmath";

/**
 * Q/DQ nodes use the standard domain, which has per-axis DequantizeLinear from opset 13:
 * older graphs (paddle2onnx writes opset 9/11) are upgraded first.
 */
export function qdqDomain(model: ModelProto): string {
  upgradeOpset(model, 13);
  return "";
}

export interface QdqWriter {
  domain: string;
  fresh: (prefix: string) => string;
  nodes: NodeProto[];
  initializers: TensorProto[];
}

/** Adds quantized-weight initializers and a DequantizeLinear; returns the float tensor name. */
export function dequantizedWeight(
  w: QdqWriter,
  base: string,
  dims: readonly number[],
  cq: ChannelQuant,
  qtype: number,
  axis: number | undefined,
  zpType = qtype,
): string {
  const q = w.fresh(`${base}_quantized`);
  const s = w.fresh(`${base}_scale`);
  const z = w.fresh(`${base}_zero_point`);
  const perChannel = cq.scales.length > 1 || axis !== undefined;
  const sdims = perChannel ? [cq.scales.length] : [];
  w.initializers.push(
    makeTensor(q, qtype, dims, cq.q),
    makeTensor(s, DataType.FLOAT, sdims, cq.scales),
    makeTensor(z, zpType, sdims, cq.zeroPoints),
  );
  const out = w.fresh(`${base}_dequantized`);
  w.nodes.push(
    makeNode("DequantizeLinear", [q, s, z], [out], {
      name: w.fresh(`${base}_DequantizeLinear`),
      domain: w.domain || undefined,
      attrs: { axis: perChannel ? axis : undefined },
    }),
  );
  return out;
}

/** Q then DQ of an activation with one scale/zero point; returns the dequantized name. */
export function quantDequant(
  w: QdqWriter,
  tensor: string,
  scale: number,
  zeroPoint: number,
  qtype: number,
): string {
  const s = w.fresh(`${tensor}_scale`);
  const z = w.fresh(`${tensor}_zero_point`);
  w.initializers.push(
    makeTensor(s, DataType.FLOAT, [], [scale]),
    makeTensor(z, qtype, [], [zeroPoint]),
  );
  const q = w.fresh(`${tensor}_QuantizeLinear_Output`);
  const dq = w.fresh(`${tensor}_DequantizeLinear_Output`);
  const domain = w.domain || undefined;
  w.nodes.push(
    makeNode("QuantizeLinear", [tensor, s, z], [q], {
      name: w.fresh(`${tensor}_QuantizeLinear`),
      domain,
    }),
    makeNode("DequantizeLinear", [q, s, z], [dq], {
      name: w.fresh(`${tensor}_DequantizeLinear`),
      domain,
    }),
  );
  return dq;
}
