// Federated calibration vs central calibration, side by side in one run. Three real agents (the
// agent code, in this process, each with its own identity, NATS connection and local store) hold
// skewed subsets of the MNIST calibration split (digits 0-3, 4-6, 7-9); the control plane merges
// their statistics and builds the int8 static variant. Beside it: central calibration on the
// union of the same data (the catalogue's path), and calibration on one device's data alone.
// Twice: devices holding the calibration split's digits, then the (8x larger) train split's.
//   npx tsx bench/federated-calibration.ts        (from apps/agent)
import {
  accuracyOfLogits,
  calibrationBatches,
  createMlp,
  exportOnnx,
  loadMnistSplit,
  MNIST_PIXELS,
  openVariant,
  predictAll,
  quantizeModel,
  trainClassifier,
} from "@edgefleet/compression";
import { decodeModel, encodeModel } from "@edgefleet/onnx";
import type { CalibrationRunView } from "@edgefleet/protocol";
import { type RunningAgent, startAgent } from "../src/agent";
import { type LocalDatasetSpec, mnistDigits } from "../src/calibration/local-dataset";
import { startTestStack, until } from "../src/test-stack";
import { fmt, table } from "./bench-kit";

const input = { name: "input", sampleDims: [MNIST_PIXELS] };
const split = loadMnistSplit();
const DIGIT_SKEWS = [
  [0, 1, 2, 3],
  [4, 5, 6],
  [7, 8, 9],
];
const scenarios = [
  { name: "calibration split (999 digits)", split: "calibration" as const },
  { name: "train split (8,000 digits)", split: "train" as const },
];

async function accuracy(onnx: Uint8Array): Promise<number> {
  const s = await openVariant(onnx, { disableQuantQdq: false }, 1);
  try {
    const { data, rowSize } = await predictAll(s, input, split.test.x, split.test.n);
    return accuracyOfLogits(data, split.test.y, split.test.n, rowSize);
  } finally {
    await s.release();
  }
}

async function calibrateOn(
  fp32: Uint8Array,
  data: { x: Float32Array; n: number },
  method: "minmax" | "percentile" | "mse",
) {
  const t0 = performance.now();
  const q = await quantizeModel(
    decodeModel(fp32),
    { kind: "int8-static", calibration: method, perChannel: true },
    { calibration: calibrationBatches(data, input), threads: 1 },
  );
  const ms = performance.now() - t0;
  return { accuracy: await accuracy(encodeModel(q.model)), ms };
}

console.error("training 784-256-128-10 on the MNIST train split…");
const net = createMlp([784, 256, 128, 10], 11);
trainClassifier(net, split.train, {
  optimizer: "adam",
  lr: 0.001,
  epochs: 3,
  batchSize: 64,
  seed: 11,
});
const fp32 = exportOnnx(net);
const fp32Accuracy = await accuracy(fp32);

const stack = await startTestStack();
const rows: (string | number)[][] = [];
const bytes: (string | number)[][] = [];
try {
  const { modelId } = await stack.importModel({
    name: "mnist-fed-bench",
    variants: [{ name: "fp32", bytes: fp32 }],
  });
  for (const scenario of scenarios) {
    const pool = split[scenario.split];
    const skews: LocalDatasetSpec[] = DIGIT_SKEWS.map((digits) => ({
      kind: "mnist",
      digits,
      split: scenario.split,
    }));
    const token = await stack.newEnrollmentToken(skews.length);
    const agents: RunningAgent[] = [];
    for (const [i, data] of skews.entries()) {
      const agent = await startAgent(
        stack.agentConfig(await stack.newDataDir(), token, {
          name: `dev-${i}`,
          calibrationData: data,
        }),
      );
      await agent.connected;
      agents.push(agent);
    }
    const alone = mnistDigits(pool, DIGIT_SKEWS[1]);
    const onlyOnes = mnistDigits(pool, [1]);
    try {
      for (const method of ["minmax", "percentile", "mse"] as const) {
        console.error(`${scenario.name}, ${method}: federated run…`);
        const t0 = performance.now();
        const created = await stack.api("/api/v1/calibrations", {
          method: "POST",
          body: JSON.stringify({ modelId, deviceIds: agents.map((a) => a.deviceId), method }),
        });
        if (created.status !== 202) throw new Error(JSON.stringify(created.body));
        const run = await until(
          "run ended",
          async () => {
            const v = (await stack.api(`/api/v1/calibrations/${created.body.id}`))
              .body as unknown as CalibrationRunView;
            return v.state === "running" ? undefined : v;
          },
          300_000,
        );
        const fedMs = performance.now() - t0;
        if (run.state !== "succeeded" || !run.result) throw new Error(`run failed: ${run.error}`);
        console.error(`${scenario.name}, ${method}: central and single-device calibration…`);
        const central = await calibrateOn(fp32, pool, method);
        const single = await calibrateOn(fp32, alone, method);
        const ones = await calibrateOn(fp32, onlyOnes, method);
        rows.push([
          scenario.name,
          method,
          fmt(run.result.accuracy * 100),
          fmt(central.accuracy * 100),
          fmt((run.result.accuracy - central.accuracy) * 100),
          fmt(single.accuracy * 100),
          fmt(ones.accuracy * 100),
          fmt(fedMs / 1000, 2),
          fmt(central.ms / 1000, 2),
        ]);
        for (const d of run.devices) {
          const i = agents.findIndex((a) => a.deviceId === d.deviceId);
          bytes.push([
            scenario.name,
            method,
            `dev-${i} (digits ${DIGIT_SKEWS[i].join(",")})`,
            d.samples,
            d.rawBytes,
            d.bytesSent,
            fmt(d.rawBytes / d.bytesSent, 1),
          ]);
        }
      }
    } finally {
      for (const a of agents) await a.stop().catch(() => {});
    }
  }
  console.log(
    `fp32 model 784-256-128-10 (${fp32.length} bytes), test accuracy ${fmt(fp32Accuracy * 100)} % on the ${split.test.n}-digit test split; 3 agents per scenario, each holding the digits named\n`,
  );
  console.log(
    table(
      [
        "devices hold",
        "method",
        "federated int8 %",
        "central int8 % (union)",
        "fed - central (points)",
        "one device alone (digits 4,5,6) %",
        "digit 1 only %",
        "federated s (POST to variant in catalogue: rounds, build, evaluate, sign, store)",
        "central s (calibrate + quantize only)",
      ],
      rows,
    ),
  );
  console.log();
  console.log(
    table(
      [
        "devices hold",
        "method",
        "device",
        "samples",
        "raw data bytes",
        "statistics bytes sent",
        "raw / sent",
      ],
      bytes,
    ),
  );
} finally {
  await stack.stop();
}
