import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { InvalidModelError } from "./errors";
import { type ModelProto, onnx } from "./proto";

export function decodeModel(bytes: Uint8Array): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw new InvalidModelError("not an ONNX model: the bytes do not decode as a ModelProto", {
      cause,
    });
  }
  // Random bytes sometimes decode "successfully" into junk: require the parts a model must have.
  if (
    !model.graph ||
    (model.graph.node ?? []).length === 0 ||
    (model.opsetImport ?? []).length === 0
  ) {
    throw new InvalidModelError("not an ONNX model: no graph nodes or opset imports");
  }
  return model;
}

export function encodeModel(model: ModelProto): Uint8Array {
  const buf = onnx.ModelProto.encode(model).finish();
  // protobufjs hands back a Node Buffer; callers get a plain Uint8Array view.
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export async function readModelFile(path: string): Promise<ModelProto> {
  return decodeModel(await readFile(path));
}

/** Writes through a temp file in the same directory and renames: readers never see a partial file. */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function writeModelFile(path: string, model: ModelProto): Promise<Uint8Array> {
  const bytes = encodeModel(model);
  await writeFileAtomic(path, bytes);
  return bytes;
}

/** Deep copy through the wire format: rewrites never alias the input model. */
export function cloneModel(model: ModelProto): ModelProto {
  return onnx.ModelProto.decode(encodeModel(model));
}
