import { encodeModel } from "./model-io";
import {
  type AttributeProto,
  AttributeType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
  type ValueInfoProto,
} from "./proto";
import { makeTensor } from "./tensor";

/** A dimension: a size, or a symbolic name such as "N" for the batch. */
export type Dim = number | string;
export type AttrValue =
  | number
  | string
  | readonly number[]
  | readonly string[]
  | TensorProto
  | { float: number }
  | { floats: readonly number[] };

export interface NodeOptions {
  name?: string;
  domain?: string;
  attrs?: Record<string, AttrValue | undefined>;
}

export function valueInfo(name: string, dtype: number, dims?: readonly Dim[]): ValueInfoProto {
  const shape = dims
    ? {
        dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
      }
    : undefined;
  return { name, type: { tensorType: { elemType: dtype, shape } } };
}

/**
 * Integers become INT, non-integers FLOAT; use `{ float: 1 }` to force a float attribute that
 * happens to be whole (alpha = 1.0).
 */
export function makeAttribute(name: string, value: AttrValue): AttributeProto {
  if (typeof value === "number") {
    return Number.isInteger(value)
      ? { name, type: AttributeType.INT, i: value }
      : { name, type: AttributeType.FLOAT, f: value };
  }
  if (typeof value === "string") {
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  }
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === "string")) {
      const enc = new TextEncoder();
      return { name, type: AttributeType.STRINGS, strings: value.map((s) => enc.encode(s)) };
    }
    const nums = value as number[];
    return nums.every(Number.isInteger)
      ? { name, type: AttributeType.INTS, ints: [...nums] }
      : { name, type: AttributeType.FLOATS, floats: [...nums] };
  }
  if ("float" in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ("floats" in value) return { name, type: AttributeType.FLOATS, floats: [...value.floats] };
  return { name, type: AttributeType.TENSOR, t: value as TensorProto };
}

export function makeNode(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  options: NodeOptions = {},
): NodeProto {
  const attribute = Object.entries(options.attrs ?? {})
    .filter((e): e is [string, AttrValue] => e[1] !== undefined)
    .map(([k, v]) => makeAttribute(k, v));
  const node: NodeProto = {
    opType,
    input: [...inputs],
    output: [...outputs],
    name: options.name ?? `${opType}_${outputs[0] ?? ""}`,
    attribute,
  };
  if (options.domain) node.domain = options.domain;
  return node;
}

export interface BuildOptions {
  /** opset per domain; "" is ai.onnx. Defaults to { "": 17 }. */
  opsets?: Record<string, number>;
  irVersion?: number;
  producerName?: string;
  graphName?: string;
}

/** Builds a GraphProto/ModelProto step by step; every add returns the tensor name for chaining. */
export class GraphBuilder {
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly nodes: NodeProto[] = [];
  private counter = 0;

  input(name: string, dtype: number, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  output(name: string, dtype: number, dims?: readonly Dim[]): string {
    this.outputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  initializer(
    name: string,
    dtype: number,
    dims: readonly number[],
    data: ArrayLike<number> | BigInt64Array | { raw: Uint8Array },
  ): string {
    this.initializers.push(makeTensor(name, dtype, dims, data));
    return name;
  }

  addTensor(t: TensorProto): string {
    this.initializers.push(t);
    return t.name ?? "";
  }

  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[] | number = 1,
    options: NodeOptions = {},
  ): string[] {
    const outs =
      typeof outputs === "number"
        ? Array.from({ length: outputs }, (_, i) => this.fresh(`${opType}_out${i}`))
        : outputs;
    this.nodes.push(
      makeNode(opType, inputs, outs, { ...options, name: options.name ?? this.fresh(opType) }),
    );
    return [...outs];
  }

  /** A name no other tensor or node in this builder uses yet. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  graph(name = "main"): GraphProto {
    return {
      name,
      input: this.inputs,
      output: this.outputs,
      initializer: this.initializers,
      node: this.nodes,
    };
  }

  build(options: BuildOptions = {}): ModelProto {
    const opsets = options.opsets ?? { "": 17 };
    const opsetImport: OperatorSetIdProto[] = Object.entries(opsets).map(([domain, version]) => ({
      domain,
      version,
    }));
    return {
      irVersion: options.irVersion ?? 8,
      producerName: options.producerName ?? "edgefleet",
      opsetImport,
      graph: this.graph(options.graphName),
    };
  }

  toBytes(options: BuildOptions = {}): Uint8Array {
    return encodeModel(this.build(options));
  }
}
