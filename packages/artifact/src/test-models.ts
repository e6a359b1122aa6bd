// Small ONNX models for this package's tests. Built here with @edgefleet/onnx because the
// artifact package must not depend on the compression engine (whose exporter is the usual source).
import { DataType, GraphBuilder } from "@edgefleet/onnx";
import type { ArtifactManifest } from "@edgefleet/protocol";
import { sha256Hex } from "./digest";

/** Seeded PRNG (mulberry32): test models are the same bytes on every run. */
export function testRng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    /** Roughly normal (sum of uniforms): enough for weights that should look like weights. */
    normal: () => next() + next() + next() + next() - 2,
  };
}

/**
 * An MLP as MatMul + Add (+ Relu) per layer, the layout the compression exporter writes.
 * `density` is the share of non-zero weights in the first layer (the rest are exact zeros).
 */
export function mlpOnnx(sizes: number[], seed: number, density = 1): Uint8Array {
  const rng = testRng(seed);
  const g = new GraphBuilder();
  let cur = g.input("input", DataType.FLOAT, ["N", sizes[0]]);
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [n, m] = [sizes[l], sizes[l + 1]];
    const keep = l === 0 ? density : 1;
    const w = Float32Array.from({ length: n * m }, () =>
      rng.next() < keep ? rng.normal() * 0.1 : 0,
    );
    const wName = g.initializer(`layer${l}.weight`, DataType.FLOAT, [n, m], w);
    const bName = g.initializer(
      `layer${l}.bias`,
      DataType.FLOAT,
      [m],
      Float32Array.from({ length: m }, () => rng.normal() * 0.01),
    );
    [cur] = g.node("MatMul", [cur, wName], 1, { name: `layer${l}.matmul` });
    const last = l + 2 === sizes.length;
    [cur] = g.node("Add", [cur, bName], last ? ["logits"] : 1, { name: `layer${l}.add` });
    if (!last) [cur] = g.node("Relu", [cur], 1, { name: `layer${l}.relu` });
  }
  g.output("logits", DataType.FLOAT, ["N", sizes[sizes.length - 1]]);
  return g.toBytes();
}

/** A valid manifest for `bytes`; tests edit the field they are about. */
export function manifestFor(bytes: Uint8Array, mediaType: string, kid: string): ArtifactManifest {
  return {
    schema: 1,
    digest: sha256Hex(bytes),
    sizeBytes: bytes.length,
    mediaType: mediaType as ArtifactManifest["mediaType"],
    model: { id: "0b6f3c2e-8d1a-4f5b-9c7e-2a4d6e8f0a1b", name: "mnist-mlp", version: "1" },
    variant: {
      id: "5d2c9e7a-1b3f-4a6d-8e0c-7f9b1a2c3d4e",
      name: "int8-static",
      technique: "quantize",
      recipe: [{ op: "quantize", weights: "int8", activations: "int8" }],
    },
    input: { name: "input", sampleDims: [784] },
    runtime: {
      kernels: ["com.microsoft:QGemm"],
      kernelType: "int8",
      opset: 17,
      memoryBytes: 31_000_000,
      disableQuantQdq: false,
    },
    quality: { metric: "accuracy", value: 0.97 },
    issuedAt: "2025-01-01T00:00:00.000Z",
    keyId: kid,
  };
}
