// The device's own calibration data (CALIBRATION_DATA). It is read on the device and never sent:
// only statistics computed over it leave. Two sources:
//   mnist:digits=0,1,2[;limit=N][;split=train]
//                                 the digits of those classes from the calibration split (or the
//                                 train split) of the `mnist` package (tests, benchmarks, demos:
//                                 a skewed subset)
//   f32:/path/to/file             raw little-endian float32 samples, back to back
import { readFile } from "node:fs/promises";

export type LocalDatasetSpec =
  | { kind: "mnist"; digits: number[]; limit?: number; split?: "calibration" | "train" }
  | { kind: "f32"; path: string };

export class LocalDatasetError extends Error {
  override name = "LocalDatasetError";
}

/** Parses CALIBRATION_DATA; the error says what is wrong with it. */
export function parseLocalDataset(text: string): LocalDatasetSpec {
  const [scheme, ...rest] = text.split(":");
  const body = rest.join(":");
  if (scheme === "f32") {
    if (!body) throw new LocalDatasetError("CALIBRATION_DATA: f32: needs a file path");
    return { kind: "f32", path: body };
  }
  if (scheme !== "mnist") {
    throw new LocalDatasetError(
      `CALIBRATION_DATA: "${text}" is neither mnist:digits=… nor f32:<file>`,
    );
  }
  const opts = new Map(
    body
      .split(";")
      .filter(Boolean)
      .map((kv) => {
        const [k, v = ""] = kv.split("=");
        return [k.trim(), v.trim()] as const;
      }),
  );
  for (const k of opts.keys()) {
    if (k !== "digits" && k !== "limit" && k !== "split") {
      throw new LocalDatasetError(`CALIBRATION_DATA: unknown mnist option "${k}"`);
    }
  }
  const digitsText = opts.get("digits");
  if (!digitsText) throw new LocalDatasetError("CALIBRATION_DATA: mnist: needs digits=0,1,…");
  const digits = digitsText.split(",").map((d) => Number(d));
  if (digits.some((d) => !Number.isInteger(d) || d < 0 || d > 9)) {
    throw new LocalDatasetError(`CALIBRATION_DATA: digits "${digitsText}" must be 0..9`);
  }
  const limitText = opts.get("limit");
  const limit = limitText === undefined ? undefined : Number(limitText);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new LocalDatasetError(
      `CALIBRATION_DATA: limit "${limitText}" must be a positive integer`,
    );
  }
  const split = opts.get("split");
  if (split !== undefined && split !== "calibration" && split !== "train") {
    throw new LocalDatasetError(`CALIBRATION_DATA: split "${split}" must be calibration or train`);
  }
  return {
    kind: "mnist",
    digits: [...new Set(digits)].sort(),
    ...(limit ? { limit } : {}),
    ...(split ? { split } : {}),
  };
}

/** The samples, `n` of `sampleSize` floats each. */
export interface LocalSamples {
  x: Float32Array;
  n: number;
}

export async function loadLocalDataset(
  spec: LocalDatasetSpec,
  sampleSize: number,
): Promise<LocalSamples> {
  if (spec.kind === "f32") {
    const buf = await readFile(spec.path);
    if (buf.length % (4 * sampleSize) !== 0) {
      throw new LocalDatasetError(
        `${spec.path}: ${buf.length} bytes is not a whole number of ${sampleSize}-float samples`,
      );
    }
    const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    return { x, n: x.length / sampleSize };
  }
  const { loadMnistSplit, MNIST_PIXELS } = await import("@edgefleet/compression/device");
  if (sampleSize !== MNIST_PIXELS) {
    throw new LocalDatasetError(
      `the model takes ${sampleSize} floats per sample, MNIST digits are ${MNIST_PIXELS}`,
    );
  }
  const mnist = loadMnistSplit();
  return mnistDigits(
    spec.split === "train" ? mnist.train : mnist.calibration,
    spec.digits,
    spec.limit,
  );
}

/** The samples of a split whose label is one of `digits`, in split order, at most `limit`. */
export function mnistDigits(
  split: { x: Float32Array; y: Uint8Array; n: number },
  digits: readonly number[],
  limit = Number.POSITIVE_INFINITY,
): LocalSamples {
  const want = new Set(digits);
  const width = split.x.length / split.n;
  const picked: number[] = [];
  for (let i = 0; i < split.n && picked.length < limit; i++)
    if (want.has(split.y[i])) picked.push(i);
  const x = new Float32Array(picked.length * width);
  picked.forEach((i, j) => {
    x.set(split.x.subarray(i * width, (i + 1) * width), j * width);
  });
  return { x, n: picked.length };
}
