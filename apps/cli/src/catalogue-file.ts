// Reads the catalogue.json that `edgefleet compress` writes (no ONNX or runtime code: cheap).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Catalogue } from "@edgefleet/compression";
import { CliInputError } from "./errors";

export async function readCatalogue(dir: string): Promise<Catalogue> {
  let text: string;
  try {
    text = await readFile(join(dir, "catalogue.json"), "utf8");
  } catch {
    throw new CliInputError(`${dir} holds no catalogue.json (write one with edgefleet compress)`);
  }
  const catalogue = JSON.parse(text) as Catalogue;
  if (catalogue.schemaVersion !== 1) {
    throw new CliInputError(
      `${dir}/catalogue.json: schemaVersion ${catalogue.schemaVersion} is not 1`,
    );
  }
  return catalogue;
}
