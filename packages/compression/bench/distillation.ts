/**
 * Distillation (Hinton et al., 2015) on the documented MNIST split: a teacher trained with
 * regularisation (input jitter + dropout), a student trained alone on hard labels, and the same
 * student distilled from the teacher's temperature-softened logits. Both students see exactly the
 * same images, epochs and seed; only the loss differs. Errors are counted in ONNX Runtime.
 *
 *   npx tsx packages/compression/bench/distillation.ts [--hidden 100] [--seeds 1,2,3] [--T 4] [--alpha 0.9]
 */
import { createSession, runBatch } from "@edgefleet/runtime";
import {
  createMlp,
  distill,
  exportOnnx,
  loadMnistSplit,
  type Sequential,
  type Split,
  trainClassifier,
} from "../src/index";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const hidden = arg("hidden", "100").split(",").map(Number);
const seeds = arg("seeds", "1,2,3").split(",").map(Number);
const temperature = Number(arg("T", "4"));
const alpha = Number(arg("alpha", "0.9"));
const STUDENT_EPOCHS = 40;
const t0 = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${msg}`);

async function ortErrors(model: Sequential, data: Split): Promise<number> {
  const session = await createSession(exportOnnx(model), { threads: 1 });
  const out = await runBatch(session, "input", data.x, [data.n, 784]);
  const logits = out.logits.data as Float32Array;
  let errors = 0;
  for (let i = 0; i < data.n; i++) {
    let best = 0;
    for (let j = 1; j < 10; j++) if (logits[i * 10 + j] > logits[i * 10 + best]) best = j;
    if (best !== data.y[i]) errors++;
  }
  await session.release();
  return errors;
}

const { train, test } = loadMnistSplit();
const teacher = createMlp([784, 300, 100, 10], 1);
trainClassifier(teacher, train, {
  optimizer: "adam",
  lr: 1e-3,
  epochs: 20,
  batchSize: 64,
  seed: 1,
  lrSchedule: "cosine",
  augment: { shift: 2 },
  dropout: 0.2,
});
const teacherErrors = await ortErrors(teacher, test);
log(`teacher 784-300-100-10: ${teacherErrors} test errors`);

const student = {
  optimizer: "adam" as const,
  lr: 1e-3,
  batchSize: 64,
  lrSchedule: "cosine" as const,
};
const rows: string[] = [];
const closed: number[] = [];
for (const seed of seeds) {
  const alone = createMlp([784, ...hidden, 10], seed);
  trainClassifier(alone, train, { ...student, epochs: STUDENT_EPOCHS, seed });
  const aloneErrors = await ortErrors(alone, test);
  const { student: distilled } = distill(teacher, { hidden }, train, {
    ...student,
    epochs: STUDENT_EPOCHS,
    seed,
    temperature,
    alpha,
  });
  const distilledErrors = await ortErrors(distilled, test);
  const gap = (aloneErrors - distilledErrors) / (aloneErrors - teacherErrors);
  closed.push(gap);
  rows.push(`| ${seed} | ${aloneErrors} | ${distilledErrors} | ${(100 * gap).toFixed(0)} % |`);
  log(
    `seed ${seed}: alone ${aloneErrors}, distilled ${distilledErrors}, gap closed ${(100 * gap).toFixed(0)} %`,
  );
}
const mean = closed.reduce((a, b) => a + b, 0) / closed.length;
console.log(
  `\nteacher 784-300-100-10: ${teacherErrors} errors / ${test.n}; student 784-${hidden.join("-")}-10, T=${temperature}, alpha=${alpha}, ${STUDENT_EPOCHS} epochs`,
);
console.log("| seed | student alone (errors) | distilled student (errors) | gap closed |");
console.log("|---:|---:|---:|---:|");
for (const r of rows) console.log(r);
console.log(
  `\nmean gap closed over ${seeds.length} seeds: ${(100 * mean).toFixed(0)} % (target >= 60 %)`,
);
log("done");
