/** The bytes are not an ONNX ModelProto (or the proto has no graph). */
export class InvalidModelError extends Error {
  override name = "InvalidModelError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A node uses an operator this code cannot handle. Names the op and the node. */
export class UnsupportedOpError extends Error {
  override name = "UnsupportedOpError";
  readonly opType: string;
  readonly nodeName: string;
  constructor(opType: string, nodeName: string, detail?: string, options?: { cause?: unknown }) {
    super(`unsupported op ${opType} at node "${nodeName}"${detail ? `: ${detail}` : ""}`, options);
    this.opType = opType;
    this.nodeName = nodeName;
  }
}

/** Shapes that do not fit together (e.g. a dataset of the wrong width for the model input). */
export class ShapeMismatchError extends Error {
  override name = "ShapeMismatchError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
