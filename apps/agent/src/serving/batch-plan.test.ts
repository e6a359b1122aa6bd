import { describe, expect, it } from "vitest";
import {
  type BatchPolicy,
  planNextRun,
  type RunPlan,
  splitOutputs,
  stackInputs,
} from "./batch-plan";

const policy = (over: Partial<BatchPolicy> = {}): BatchPolicy => ({
  maxBatch: 16,
  maxDelayMs: 2,
  dynamicBatch: true,
  ...over,
});
/** Requests as [samples, queuedAt]. */
const q = (...reqs: [number, number][]) =>
  reqs.map(([samples, queuedAt]) => ({ samples, queuedAt }));

describe("planNextRun", () => {
  const table: [string, ReturnType<typeof q>, BatchPolicy, number, RunPlan][] = [
    ["nothing queued", q(), policy(), 0, { action: "idle" }],
    [
      "one fresh request waits for company",
      q([1, 10]),
      policy(),
      10,
      { action: "wait", until: 12 },
    ],
    [
      "the oldest has waited maxDelayMs",
      q([1, 10]),
      policy(),
      12,
      { action: "run", take: 1, samples: 1 },
    ],
    [
      "maxDelayMs 0 runs at once",
      q([1, 10]),
      policy({ maxDelayMs: 0 }),
      10,
      { action: "run", take: 1, samples: 1 },
    ],
    [
      "requests that queued behind a run go together at once",
      q([1, 0], [1, 1], [2, 1.5]),
      policy(),
      5,
      { action: "run", take: 3, samples: 4 },
    ],
    [
      "the deadline is the oldest request's",
      q([1, 10], [1, 11.5]),
      policy(),
      11.6,
      { action: "wait", until: 12 },
    ],
    [
      "a full batch runs without waiting",
      q([8, 10], [8, 10]),
      policy(),
      10,
      { action: "run", take: 2, samples: 16 },
    ],
    [
      "stops at maxBatch samples, in order",
      q([6, 0], [6, 0], [6, 0]),
      policy(),
      5,
      { action: "run", take: 2, samples: 12 },
    ],
    [
      "FIFO: a small request does not overtake one that does not fit",
      q([10, 10], [10, 10], [1, 10]),
      policy(),
      10,
      { action: "run", take: 1, samples: 10 },
    ],
    [
      "the next request not fitting means waiting cannot help",
      q([12, 10], [5, 10]),
      policy(),
      10,
      { action: "run", take: 1, samples: 12 },
    ],
    [
      "a request larger than maxBatch runs alone",
      q([40, 10], [1, 10]),
      policy(),
      10,
      { action: "run", take: 1, samples: 40 },
    ],
    [
      "a request of exactly maxBatch runs alone at once",
      q([16, 10], [1, 10]),
      policy(),
      10,
      { action: "run", take: 1, samples: 16 },
    ],
    [
      "maxBatch 1: one request per run, no waiting",
      q([1, 10], [1, 10]),
      policy({ maxBatch: 1 }),
      10,
      { action: "run", take: 1, samples: 1 },
    ],
    [
      "a static batch axis: one request per run, no waiting",
      q([1, 10], [1, 10]),
      policy({ dynamicBatch: false }),
      10,
      { action: "run", take: 1, samples: 1 },
    ],
  ];
  it.each(table)("%s", (_name, queue, pol, now, expected) => {
    expect(planNextRun(queue, pol, now)).toEqual(expected);
  });
});

describe("stackInputs / splitOutputs", () => {
  it("a single input is passed through without a copy", () => {
    const x = new Float32Array([1, 2]);
    expect(stackInputs([x])).toBe(x);
  });

  it("stacks along the batch axis and splits outputs back per request", () => {
    const stacked = stackInputs([new Float32Array([1, 2]), new Float32Array([3, 4, 5, 6])]);
    expect([...stacked]).toEqual([1, 2, 3, 4, 5, 6]);
    const parts = splitOutputs(
      {
        y: { dims: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
        z: { dims: [3], data: new Float32Array([7, 8, 9]) },
      },
      [1, 2],
    );
    expect(
      parts?.map((p) => ({ y: [p.y.dims, [...p.y.data]], z: [p.z.dims, [...p.z.data]] })),
    ).toEqual([
      {
        y: [
          [1, 2],
          [1, 2],
        ],
        z: [[1], [7]],
      },
      {
        y: [
          [2, 2],
          [3, 4, 5, 6],
        ],
        z: [[2], [8, 9]],
      },
    ]);
  });

  it.each([
    ["an output without the batch axis", { y: { dims: [2], data: new Float32Array(2) } }],
    ["a scalar output", { y: { dims: [], data: new Float32Array(1) } }],
  ])("refuses to split %s", (_name, outputs) => {
    expect(splitOutputs(outputs, [1, 2])).toBeUndefined();
  });
});
