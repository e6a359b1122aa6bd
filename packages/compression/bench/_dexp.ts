import {
  countErrors,
  createMlp,
  distill,
  loadMnistSplit,
  trainClassifier,
} from "/work/main/packages/compression/src/index";

const { train, test } = loadMnistSplit();
const t0 = Date.now();
const el = () => ((Date.now() - t0) / 1000).toFixed(0);
const teacher = createMlp([784, 300, 100, 10], 1);
const TE = Number(process.env.TE ?? 12);
trainClassifier(teacher, train, {
  optimizer: "adam",
  lr: 1e-3,
  epochs: TE,
  batchSize: 64,
  seed: 1,
  lrSchedule: "cosine",
  augment: { shift: 2 },
  dropout: Number(process.env.DROP ?? 0.2),
});
console.log(el(), "teacher errors", countErrors(teacher, test));
for (const h of (process.env.H ?? "30").split(",").map(Number)) {
  for (const seed of [1, 2]) {
    const alone = createMlp([784, h, 10], seed);
    const E = Number(process.env.SE ?? 20);
    trainClassifier(alone, train, {
      optimizer: "adam",
      lr: 1e-3,
      epochs: E,
      batchSize: 64,
      seed,
      lrSchedule: "cosine",
    });
    const ea = countErrors(alone, test);
    for (const T of (process.env.T ?? "4").split(",").map(Number)) {
      const { student } = distill(teacher, { hidden: [h] }, train, {
        temperature: T,
        alpha: Number(process.env.A ?? 0.9),
        epochs: E,
        seed,
        lrSchedule: "cosine",
      });
      console.log(
        el(),
        `h=${h} seed=${seed} T=${T} alone=${ea} distilled=${countErrors(student, test)}`,
      );
    }
  }
}
