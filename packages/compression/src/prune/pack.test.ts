import { createHash } from "node:crypto";
import * as artifact from "@edgefleet/artifact";
import { DataType, GraphBuilder } from "@edgefleet/onnx";
import { describe, expect, it } from "vitest";
import { exportOnnx } from "../nn/export-onnx";
import { createCnn, createMlp } from "../nn/model";
import { createRng } from "../nn/rng";
import { inspectPacked, type PackOptions, packModel, unpackModel } from "./pack";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function tinyModel(): Uint8Array {
  const model = createMlp([64, 32, 10], 9);
  const w = model.layers[0];
  if (w.kind === "dense") for (let i = 0; i < w.weight.length; i++) if (i % 5) w.weight[i] = 0;
  return exportOnnx(model);
}

/** Initializers as `floatData` (not raw bytes), an int64 one, and one too small to pack. */
function floatDataModel(): Uint8Array {
  const rng = createRng(11);
  const g = new GraphBuilder();
  const x = g.input("input", DataType.FLOAT, ["N", 40]);
  const shape = g.initializer("shape", DataType.INT64, [2], BigInt64Array.from([-1n, 40n]));
  g.addTensor({
    name: "w",
    dataType: DataType.FLOAT,
    dims: [40, 30],
    floatData: Array.from({ length: 1200 }, () => (rng.next() < 0.5 ? rng.normal() : 0)),
  });
  const b = g.initializer("b", DataType.FLOAT, [8], Float32Array.from({ length: 8 }, rng.normal));
  const w2 = g.initializer(
    "w2",
    DataType.FLOAT,
    [30, 8],
    Float32Array.from({ length: 240 }, rng.normal),
  );
  const [r] = g.node("Reshape", [x, shape]);
  const [m] = g.node("MatMul", [r, "w"]);
  const [m2] = g.node("MatMul", [m, w2]);
  g.node("Add", [m2, b], ["logits"]);
  g.output("logits", DataType.FLOAT, ["N", 8]);
  return g.toBytes();
}

const models = {
  tiny: tinyModel(),
  mlp3: exportOnnx(createMlp([64, 32, 10], 3)),
  lenet: exportOnnx(createMlp([784, 64, 10], 4)),
  cnn: exportOnnx(createCnn({ channels: [4, 8], hidden: [16] }, 2)),
  floatData: floatDataModel(),
};

/**
 * sha256 of what packModel wrote BEFORE the EFPK format moved to @edgefleet/artifact (clustering
 * then ran inside the packer). Codec "none" only: brotli and gzip bytes depend on the zlib
 * bundled with Node, these only on our code. The Deep Compression numbers in
 * docs/benchmarks/compression.md were measured on these bytes.
 */
const BEFORE_THE_MOVE: Array<{
  model: keyof typeof models;
  opts: PackOptions;
  packed: string;
  unpacked: string;
}> = [
  {
    model: "tiny",
    opts: { codec: "none" },
    packed: "5aff923ea3ddab5fb09685fa3035e3917877db4419646ca8dd9328338ea14f3f",
    unpacked: "06fd2b7d2dd0c6e67f5f710b90d6fc98b4a3865bee6968fcc90aa48eb30fb2e7",
  },
  {
    model: "floatData",
    opts: { codec: "none" },
    packed: "4e4f33f8726fb93ae8eeca052f3e90b8fc923e54845b7a25828b42b646a1a4b6",
    unpacked: "2fbd99aa14f3301895a7c129155a3d2a6c53b6893d749cfa5366340258390d5e",
  },
  {
    model: "mlp3",
    opts: { codec: "none", clusterBits: 3, minClusterElements: 1000 },
    packed: "3fa8b8753826815374fcb1f455d359f9e0bd098e7c380ef4d08818d13176a252",
    unpacked: "77ba3fa2225e413adf009d124767296ba51ed942ef1a8ab540f4049a4da4cdd5",
  },
  {
    model: "lenet",
    opts: { codec: "none", clusterBits: 5 },
    packed: "2d42cb6e8b9ae9d262646c66b0090347828d3154e57aa975e60c454e66520da8",
    unpacked: "0b3392d8cd8f8d36a1c118d5587c9f6611eb0c47ca547a1249b0afe007ec5dd6",
  },
  {
    model: "cnn",
    opts: { codec: "none", clusterBits: 4, minClusterElements: 100 },
    packed: "af80d0ab93b13e04617c461804c1bcd4141b938d5a857b0eb53cf61ca9064128",
    unpacked: "7009609f26b1d9852b393928a8d2e0d70fdd9467030a2bb6401c68e419a6d20c",
  },
  {
    // minClusterElements 1: the 8-element bias is still not clustered (it is never packed).
    model: "floatData",
    opts: { codec: "none", clusterBits: 2, minClusterElements: 1 },
    packed: "68a052bb250fa660c34e6b60eb30c831548635f9a2735875ad461842cd65755f",
    unpacked: "240f6759754045fdc873e9843af36ef38538bc3196a893187a0c50cbbe1e68d9",
  },
  {
    model: "tiny",
    opts: { codec: "none", clusterBits: 8, minClusterElements: 1 },
    packed: "5dc4e4583b9f44a8139cfb231e6927ac45484754f143342460697b41e6fd7d35",
    unpacked: "dcf11a8b02206fc4338d97ddad94638707e36fb802cd6066fb469a065378399c",
  },
];

describe("packModel writes the same bytes as before the format moved to @edgefleet/artifact", () => {
  it.each(BEFORE_THE_MOVE)("$model $opts", ({ model, opts, packed, unpacked }) => {
    const out = packModel(models[model], opts);
    expect(sha(out)).toBe(packed);
    expect(sha(unpackModel(out))).toBe(unpacked);
  });

  it.each(["brotli", "gzip", "none"] as const)("lossless (%s) is artifact's packModel", (codec) => {
    const onnx = models.tiny;
    expect(packModel(onnx, { codec })).toEqual(artifact.packModel(onnx, { codec }));
  });

  it("clustered with brotli unpacks to the same model as clustered uncompressed", () => {
    const opts = { clusterBits: 3, minClusterElements: 1000 };
    const brotli = packModel(models.mlp3, { ...opts, codec: "brotli" });
    expect(unpackModel(brotli)).toEqual(
      unpackModel(packModel(models.mlp3, { codec: "none", ...opts })),
    );
  });

  it("re-exports artifact's reader, so old callers and the agent decode alike", () => {
    expect(unpackModel).toBe(artifact.unpackModel);
    expect(inspectPacked).toBe(artifact.inspectPacked);
  });
});

describe("lossy clustering", () => {
  it("keeps at most 2^bits distinct values per tensor", () => {
    const info = inspectPacked(
      packModel(models.mlp3, { clusterBits: 3, minClusterElements: 1000 }),
    );
    const w0 = info.find((t) => t.name === "layer0.weight")!;
    expect(w0.encoding).toBe("dense-codebook");
    expect(w0.codebookSize).toBeLessThanOrEqual(8);
    // 320 entries: below minClusterElements, so kept exact
    expect(info.find((t) => t.name === "layer1.weight")!.encoding).toBe("dense-f32");
  });

  it("leaves the caller's bytes alone", () => {
    const onnx = models.mlp3.slice();
    packModel(onnx, { clusterBits: 3 });
    expect(onnx).toEqual(models.mlp3);
  });
});
