/**
 * Benchmark 3: int8 static quantization of a wide MLP (784-1024-1024-10) trained on the MNIST
 * split. fp32 and the int8 QDQ variants (three calibration methods) are measured side by side
 * in one run, in ONNX Runtime, on the held-out test split; batch-64 latency rounds alternate
 * between models so machine noise hits them alike. The int8 variants are built for an unknown
 * target (7-bit weights, see int8ReduceRange), plus one min-max variant with full 8-bit weights.
 *
 *   npx tsx packages/compression/bench/int8-static.ts [--epochs 3] [--seed 1] [--threads 1] [--rounds 8]
 */
import { decodeModel, encodeModel } from "@edgefleet/onnx";
import {
  floatTensor,
  type LatencyStats,
  measureLatency,
  type Session,
  summarizeLatency,
} from "@edgefleet/runtime";
import {
  accuracyOfLogits,
  type CalibrationMethod,
  calibrationBatches,
  createMlp,
  exportOnnx,
  kernelReport,
  loadMnistSplit,
  ONNX_INPUT,
  openVariant,
  predictAll,
  quantizeModel,
  trainClassifier,
} from "../src/index";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const epochs = arg("epochs", 3);
const seed = arg("seed", 1);
const threads = arg("threads", 1);
const rounds = arg("rounds", 8);
const widths = [784, 1024, 1024, 10];

const split = loadMnistSplit();
const t0 = Date.now();
const mlp = createMlp(widths, seed);
trainClassifier(mlp, split.train, { optimizer: "adam", lr: 1e-3, batchSize: 64, epochs, seed });
console.log(
  `trained ${widths.join("-")} for ${epochs} epochs in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
);

const fp32 = decodeModel(exportOnnx(mlp));
const input = { name: ONNX_INPUT, sampleDims: [784] };
const calibration = calibrationBatches(split.calibration, input, 100);
const variants: { id: string; bytes: Uint8Array }[] = [{ id: "fp32", bytes: encodeModel(fp32) }];
for (const method of ["minmax", "percentile", "mse"] as CalibrationMethod[]) {
  const r = await quantizeModel(
    fp32,
    { kind: "int8-static", calibration: method, perChannel: true },
    { calibration },
  );
  variants.push({ id: `int8-static-${method}`, bytes: encodeModel(r.model) });
}
// The same min-max variant with full 8-bit weights, as built for a VNNI target: on an x86 host
// without VNNI it shows what reduce-range avoids (ORT's U8S8 int16 pair sums saturating).
const vnni = await quantizeModel(
  fp32,
  { kind: "int8-static", calibration: "minmax", perChannel: true },
  { calibration, target: { arch: "x64", cpuFlags: ["avx2", "avx512f", "avx512_vnni"] } },
);
variants.push({ id: "int8-minmax-8bit-w", bytes: encodeModel(vnni.model) });

const sessions = new Map<string, Session>();
for (const v of variants)
  sessions.set(v.id, await openVariant(v.bytes, { disableQuantQdq: false }, threads));
const accuracy = new Map<string, number>();
for (const v of variants) {
  const { data, rowSize } = await predictAll(
    sessions.get(v.id) as Session,
    input,
    split.test.x,
    split.test.n,
  );
  accuracy.set(v.id, accuracyOfLogits(data, split.test.y, split.test.n, rowSize));
}

// Side by side: every round times every model, one run per sample, after a short warm-up.
const batch = floatTensor(split.test.x.slice(0, 64 * 784), [64, 784]);
const samples = new Map<string, number[]>(variants.map((v) => [v.id, []]));
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const session = sessions.get(v.id) as Session;
    await measureLatency(session, { [ONNX_INPUT]: batch }, { warmup: 5, iterations: 1 });
    for (let i = 0; i < 20; i++) {
      const one = await measureLatency(
        session,
        { [ONNX_INPUT]: batch },
        { warmup: 0, iterations: 1 },
      );
      samples.get(v.id)?.push(one.bestMs);
    }
  }
}
const stats = new Map<string, LatencyStats>(
  [...samples].map(([id, t]) => [id, summarizeLatency(t)]),
);
const base = stats.get("fp32") as LatencyStats;
console.log(
  `\nORT ${threads} intra-op thread(s), batch 64, ${rounds} alternating rounds x 20 runs; test split n=${split.test.n}`,
);
console.log(
  "variant                 bytes      acc %   drop pt  b64 best ms  b64 median ms  speedup (median)  kernels",
);
for (const v of variants) {
  const s = stats.get(v.id) as LatencyStats;
  const k = await kernelReport(v.bytes, input, { threads });
  const drop = ((accuracy.get("fp32") ?? 0) - (accuracy.get(v.id) ?? 0)) * 100;
  console.log(
    [
      v.id.padEnd(22),
      String(v.bytes.length).padStart(8),
      ((accuracy.get(v.id) ?? 0) * 100).toFixed(2).padStart(8),
      drop.toFixed(2).padStart(8),
      s.bestMs.toFixed(3).padStart(11),
      s.medianMs.toFixed(3).padStart(14),
      `${(base.medianMs / s.medianMs).toFixed(2)}x`.padStart(17),
      ` ${JSON.stringify(k.optimizedOps)}`,
    ].join(" "),
  );
}
for (const s of sessions.values()) await s.release();
