import type { Split } from "../data/mnist";
import { predictSplit } from "../nn/evaluate";
import { createMlp, type Sequential, shapeSize } from "../nn/model";
import { type TrainOptions, type TrainResult, trainClassifier } from "../train/trainer";

/** A student: an MLP given by its hidden widths (inputs/classes follow the teacher), or a model. */
export type StudentSpec = { hidden: number[] } | Sequential;

export interface DistillOptions extends Partial<Omit<TrainOptions, "distill">> {
  temperature: number;
  /** Weight of the soft-target term (alpha * T^2 * KL); 1 - alpha goes to the hard labels. */
  alpha: number;
  epochs: number;
  seed: number;
}

export interface DistillResult {
  student: Sequential;
  train: TrainResult;
}

/**
 * Hinton et al. (2015): trains the student on alpha * T^2 * KL(softmax(t/T) || softmax(s/T))
 * + (1 - alpha) * CE(labels). Without augmentation the teacher's logits are computed once for the
 * whole transfer set; with augmentation the teacher runs on every augmented batch.
 */
export function distill(
  teacher: Sequential,
  studentSpec: StudentSpec,
  data: Split,
  opts: DistillOptions,
): DistillResult {
  const student =
    "layers" in studentSpec ? studentSpec : studentFor(teacher, studentSpec.hidden, opts.seed);
  const teacherTargets = opts.augment?.shift ? teacher : predictSplit(teacher, data);
  const train = trainClassifier(student, data, {
    optimizer: "adam",
    lr: 1e-3,
    batchSize: 64,
    ...opts,
    distill: { teacher: teacherTargets, temperature: opts.temperature, alpha: opts.alpha },
  });
  return { student, train };
}

export function studentFor(teacher: Sequential, hidden: number[], seed: number): Sequential {
  const last = teacher.layers.findLast((l) => l.kind === "dense");
  const classes = last?.kind === "dense" ? last.outputs : 10;
  return createMlp([shapeSize(teacher.inputShape), ...hidden, classes], seed);
}
