import { describe, expect, it } from "vitest";
import { crossEntropy, distillationLoss, softmax } from "./loss";

describe("softmax with temperature", () => {
  it.each([
    { z: [0, 0], T: 1, p: [0.5, 0.5] },
    { z: [Math.log(3), 0], T: 1, p: [0.75, 0.25] },
    { z: [2 * Math.log(3), 0], T: 2, p: [0.75, 0.25] },
    { z: [1000, 0], T: 1, p: [1, 0] },
    { z: [1, 2, 3], T: 1e6, p: [1 / 3, 1 / 3, 1 / 3] },
  ])("softmax($z / $T)", ({ z, T, p }) => {
    const out = softmax(Float32Array.from(z), 1, z.length, T);
    p.forEach((v, i) => {
      expect(out[i]).toBeCloseTo(v, 5);
    });
  });

  it("higher temperature gives a softer distribution", () => {
    const z = Float32Array.from([3, 1, 0]);
    const hard = softmax(z, 1, 3, 1);
    const soft = softmax(z, 1, 3, 4);
    expect(soft[0]).toBeLessThan(hard[0]);
    expect(soft[2]).toBeGreaterThan(hard[2]);
  });
});

function numericGrad(f: (z: Float32Array) => number, z: Float32Array, h = 1e-2): Float64Array {
  const g = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) {
    const keep = z[i];
    z[i] = keep + h;
    const up = f(z);
    z[i] = keep - h;
    const down = f(z);
    z[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

describe("loss gradients match finite differences", () => {
  const student = Float32Array.from([0.3, -1.2, 0.8, 2.0, 0.1, -0.5]);
  const teacher = Float32Array.from([1.5, -0.3, 0.2, 0.4, 2.2, -1.0]);
  const labels = Uint8Array.from([0, 1]);

  it("cross-entropy", () => {
    const { grad } = crossEntropy(student, labels, 2, 3);
    const num = numericGrad((z) => crossEntropy(z, labels, 2, 3).loss, student.slice());
    num.forEach((v, i) => {
      expect(Math.abs(grad[i] - v)).toBeLessThan(1e-3 + 1e-2 * Math.abs(v));
    });
  });

  it.each([
    { T: 1, alpha: 0.5 },
    { T: 4, alpha: 0.9 },
    { T: 8, alpha: 1 },
    { T: 2, alpha: 0 },
  ])("distillation T=$T alpha=$alpha", ({ T, alpha }) => {
    const { grad } = distillationLoss(student, teacher, labels, 2, 3, T, alpha);
    const f = (z: Float32Array) => distillationLoss(z, teacher, labels, 2, 3, T, alpha).loss;
    const num = numericGrad(f, student.slice());
    num.forEach((v, i) => {
      expect(Math.abs(grad[i] - v)).toBeLessThan(1e-3 + 1e-2 * Math.abs(v));
    });
  });

  it("soft term is zero when student equals teacher", () => {
    const { loss } = distillationLoss(teacher, teacher, labels, 2, 3, 4, 1);
    expect(loss).toBeCloseTo(0, 6);
  });
});
