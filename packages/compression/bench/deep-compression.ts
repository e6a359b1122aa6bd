/**
 * Deep Compression (Han et al., 2016) on LeNet-300-100: train -> iterative magnitude pruning with
 * masked fine-tuning -> k-means weight sharing with centroid fine-tuning -> packed shipped form.
 * Accuracy is measured by running the UNPACKED model in ONNX Runtime on the held-out test split.
 *
 *   npx tsx packages/compression/bench/deep-compression.ts [--seed 1]
 */
import { gzipSync } from "node:zlib";
import { createSession, runBatch } from "@edgefleet/runtime";
import {
  accuracyOf,
  applyMasks,
  createMlp,
  exportOnnx,
  loadMnistSplit,
  type Masks,
  magnitudeMasks,
  packModel,
  type Sequential,
  type Split,
  shareWeights,
  sparsityOf,
  trainClassifier,
  unpackModel,
} from "../src/index";

const seed = Number(process.argv[process.argv.indexOf("--seed") + 1] || 1);
// Layerwise sparsity of fc1/fc2/fc3 per prune step, and fine-tuning epochs after each step.
const SCHEDULE = [
  { sparsity: [0.6, 0.5, 0.3], epochs: 2 },
  { sparsity: [0.85, 0.8, 0.5], epochs: 2 },
  { sparsity: [0.935, 0.9, 0.7], epochs: 6 },
];
const BITS = [5, 5, 5];

async function ortAccuracy(onnx: Uint8Array, data: Split): Promise<number> {
  const session = await createSession(onnx, { threads: 1 });
  const out = await runBatch(session, "input", data.x, [data.n, 784]);
  const logits = out.logits.data as Float32Array;
  let correct = 0;
  for (let i = 0; i < data.n; i++) {
    let best = 0;
    for (let j = 1; j < 10; j++) if (logits[i * 10 + j] > logits[i * 10 + best]) best = j;
    if (best === data.y[i]) correct++;
  }
  await session.release();
  return correct / data.n;
}

const pct = (v: number) => `${(100 * v).toFixed(2)} %`;
const t0 = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${msg}`);

const { train, test } = loadMnistSplit();
const model: Sequential = createMlp([784, 300, 100, 10], seed);
trainClassifier(model, train, {
  optimizer: "adam",
  lr: 1e-3,
  epochs: 12,
  batchSize: 64,
  seed,
  lrSchedule: "cosine",
  weightDecay: 1e-4,
});
const baseOnnx = exportOnnx(model);
const baseAcc = await ortAccuracy(baseOnnx, test);
log(`baseline: TS ${pct(accuracyOf(model, test))}, ORT ${pct(baseAcc)}, ${baseOnnx.length} B`);

let masks: Masks = [];
SCHEDULE.forEach(({ sparsity, epochs }, step) => {
  masks = magnitudeMasks(model, { sparsity, scope: "layerwise" });
  applyMasks(model, masks);
  trainClassifier(model, train, {
    optimizer: "adam",
    lr: 1e-3,
    epochs,
    batchSize: 64,
    seed: seed + 100 + step,
    lrSchedule: "cosine",
    masks,
  });
  const s = sparsityOf(model);
  log(
    `prune ${sparsity.join("/")}: kept ${s.nonZero}/${s.total}, test ${pct(accuracyOf(model, test))}`,
  );
});

const sharing = shareWeights(model, BITS);
log(`cluster ${BITS.join("/")} bits: test ${pct(accuracyOf(model, test))} before centroid tuning`);
trainClassifier(model, train, {
  optimizer: "sgd",
  lr: 0.002,
  momentum: 0.9,
  epochs: 3,
  batchSize: 64,
  seed: seed + 200,
  sharing,
});
log(`centroids fine-tuned: test ${pct(accuracyOf(model, test))}`);

const prunedOnnx = exportOnnx(model);
const packed = packModel(prunedOnnx);
const unpacked = unpackModel(packed);
const packedAcc = await ortAccuracy(unpacked, test);
const gz = gzipSync(baseOnnx, { level: 9 }).length;
console.log("\n| artifact | bytes | vs fp32 ONNX | test accuracy (ORT) |");
console.log("|---|---:|---:|---:|");
console.log(`| fp32 ONNX | ${baseOnnx.length} | 1.0x | ${pct(baseAcc)} |`);
console.log(
  `| fp32 ONNX, gzip -9 | ${gz} | ${(baseOnnx.length / gz).toFixed(1)}x | ${pct(baseAcc)} |`,
);
console.log(
  `| pruned+shared ONNX (unpacked) | ${unpacked.length} | ${(baseOnnx.length / unpacked.length).toFixed(1)}x | ${pct(packedAcc)} |`,
);
console.log(
  `| **shipped packed** | ${packed.length} | **${(baseOnnx.length / packed.length).toFixed(1)}x** | ${pct(packedAcc)} |`,
);
const s = sparsityOf(model);
console.log(
  `\nweights kept: ${s.nonZero} of ${s.total} (${pct(1 - s.overall)}); per layer kept: ${s.layers
    .filter((v) => v !== undefined)
    .map((v) => pct(1 - v!))
    .join(", ")}`,
);
console.log(
  `accuracy drop: ${(100 * (baseAcc - packedAcc)).toFixed(2)} points (target <= 0.5); compression ${(baseOnnx.length / packed.length).toFixed(1)}x (target >= 40x)`,
);
log("done");
