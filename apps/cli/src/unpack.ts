import { readFile } from "node:fs/promises";
import { isPackedModel, unpackModel } from "@edgefleet/artifact";
import { decodeModel, InvalidModelError, writeFileAtomic } from "@edgefleet/onnx";
import { CliInputError } from "./inputs";

/** Packed shipped form -> the ONNX model a device runs (same decoder as the agent). */
export async function unpack(
  file: string,
  out: string,
): Promise<{ bytes: number; packed: boolean }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (err) {
    throw new CliInputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      cause: err,
    });
  }
  if (isPackedModel(bytes)) {
    const onnx = unpackModel(bytes);
    await writeFileAtomic(out, onnx);
    return { bytes: onnx.length, packed: true };
  }
  try {
    decodeModel(bytes);
  } catch (err) {
    throw new InvalidModelError(`${file} is neither a packed model nor ONNX`, { cause: err });
  }
  await writeFileAtomic(out, bytes);
  return { bytes: bytes.length, packed: false };
}
