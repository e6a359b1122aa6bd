import { describe, expect, it } from "vitest";
import type { Split } from "../data/mnist";
import { predict } from "../nn/forward";
import { createMlp, type Dense } from "../nn/model";
import { createRng } from "../nn/rng";
import { trainClassifier } from "../train/trainer";
import { distill, studentFor } from "./distill";

function toy(n: number): Split {
  const rng = createRng(4);
  const x = Float32Array.from({ length: n * 20 }, () => rng.next());
  const y = Uint8Array.from(
    { length: n },
    (_, i) => (x[i * 20] > 0.5 ? 1 : 0) + (x[i * 20 + 1] > 0.5 ? 2 : 0),
  );
  return { x, y, n };
}

describe("distill", () => {
  const data = toy(128);
  const teacher = createMlp([20, 32, 10], 1);
  trainClassifier(teacher, data, {
    optimizer: "adam",
    lr: 0.01,
    epochs: 3,
    batchSize: 16,
    seed: 1,
  });
  const base = { epochs: 2, seed: 5, batchSize: 16, lr: 0.01 };

  it("builds the student from hidden widths and the teacher's input/output sizes", () => {
    const s = studentFor(teacher, [7, 5], 1);
    expect(s.layers.map((l) => (l as Dense).outputs)).toEqual([7, 5, 10]);
    expect((s.layers[0] as Dense).inputs).toBe(20);
  });

  it("alpha = 0 is exactly plain hard-label training", () => {
    const { student } = distill(teacher, { hidden: [8] }, data, {
      ...base,
      temperature: 4,
      alpha: 0,
    });
    const plain = createMlp([20, 8, 10], 5);
    trainClassifier(plain, data, { optimizer: "adam", ...base });
    expect([...(student.layers[0] as Dense).weight]).toEqual([
      ...(plain.layers[0] as Dense).weight,
    ]);
  });

  it("alpha = 1 pulls the student's soft outputs toward the teacher's", () => {
    const gap = (alpha: number) => {
      const { student } = distill(teacher, { hidden: [8] }, data, {
        ...base,
        epochs: 6,
        temperature: 4,
        alpha,
      });
      const a = predict(student, data.x, data.n);
      const b = predict(teacher, data.x, data.n);
      let d = 0;
      for (let i = 0; i < a.length; i++) d += (a[i] - b[i]) ** 2;
      return d;
    };
    expect(gap(1)).toBeLessThan(gap(0));
  });
});
