// Benchmark (b): swaps under load. `npm run bench:swap -w @edgefleet/agent`
//
// 4 clients (a forked process, keep-alive, binary form) send a steady stream of requests while
// the server swaps 20 times between two variants of the MNIST-sized MLP 784-300-100-10 (random
// weights): fp32 and its dynamic-int8 rewrite from @edgefleet/compression. Each swap is what the
// reconcile loop does: load the next variant beside the serving one, warm it up, swap, and the
// old one is released after its last request. Requests are classified by when they started:
// within 250 ms either side of a swap instant, during a load + warm-up, or steady (further than
// 250 ms from any load, warm-up or swap).
import { quantizeDynamic } from "@edgefleet/compression";
import { decodeModel, encodeModel } from "@edgefleet/onnx";
import type { ArtifactManifest, RuntimeOptions } from "@edgefleet/protocol";
import { startHttpApi } from "../src/serving/http-api";
import { ModelSlot } from "../src/serving/model-slot";
import { prepareModel } from "../src/serving/prepare";
import { ortRuntime } from "../src/serving/runtime";
import { mnistMlp, sampleInput } from "../src/serving/test-models";
import { fmt, LoadClient, percentile, sleep, table } from "./bench-kit";

const SWAPS = Number(process.env.SWAPS ?? 20);
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 1000);
const LEAD_MS = 1500;
const CLIENTS = 4;
const WINDOW_MS = 250;

const fp32 = mnistMlp(1);
const int8 = encodeModel(quantizeDynamic(decodeModel(fp32)));
const variants = [
  { name: "fp32", bytes: fp32, kernelType: "fp32" as const },
  { name: "int8-dynamic", bytes: int8, kernelType: "int8" as const },
];
const options: RuntimeOptions = {
  threads: 1,
  maxBatch: 16,
  maxDelayMs: Number(process.env.MAX_DELAY_MS ?? 0),
  queueLimit: 256,
};
const epochNow = () => performance.timeOrigin + performance.now();

function manifest(v: (typeof variants)[number], i: number): ArtifactManifest {
  return {
    schema: 1,
    digest: String(i % 10).repeat(64),
    sizeBytes: v.bytes.byteLength,
    mediaType: "application/onnx",
    model: { id: "00000000-0000-4000-8000-000000000000", name: "mnist-mlp", version: "1" },
    variant: {
      id: `00000000-0000-4000-8000-00000000000${variants.indexOf(v)}`,
      name: v.name,
      technique: v.name,
      recipe: [],
    },
    input: { name: "input", sampleDims: [784] },
    runtime: {
      kernels: [],
      kernelType: v.kernelType,
      opset: 17,
      memoryBytes: 0,
      disableQuantQdq: false,
    },
    quality: { metric: "accuracy", value: 0 },
    issuedAt: new Date().toISOString(),
    keyId: "bench",
  };
}

interface SwapTimes {
  loadAt: number;
  swapAt: number;
  releasedAt: number;
}

async function main() {
  const runtime = ortRuntime();
  const slot = new ModelSlot();
  const prepare = (i: number) =>
    prepareModel(runtime, variants[i % 2].bytes, {
      manifest: manifest(variants[i % 2], i),
      generation: i + 1,
      options,
      defaultThreads: 1,
    });
  await slot.swap(await prepare(0)).released;
  const api = await startHttpApi({ slot });
  const client = new LoadClient();
  const sample = sampleInput(784, 3);
  const cmd = { url: api.url, mode: "binary" as const, input: [...sample], dims: [1, 784] };
  await client.run({ ...cmd, concurrency: CLIENTS, durationMs: 500 }); // warm connections and JIT

  const swaps: SwapTimes[] = [];
  const durationMs = LEAD_MS * 2 + SWAPS * INTERVAL_MS;
  const load = client.run({ ...cmd, concurrency: CLIENTS, durationMs, recordAll: true });
  const start = epochNow();
  for (let i = 1; i <= SWAPS; i++) {
    await sleep(start + LEAD_MS + (i - 1) * INTERVAL_MS - epochNow());
    const loadAt = epochNow();
    const next = await prepare(i);
    const swapAt = epochNow();
    const { released } = slot.swap(next);
    await released;
    swaps.push({ loadAt, swapAt, releasedAt: epochNow() });
  }
  const res = await load;
  client.close();
  await api.close();
  await slot.unload().released;

  const records = res.records ?? [];
  const near = (t: number) => swaps.some((s) => Math.abs(t - s.swapAt) <= WINDOW_MS);
  const inLoad = (t: number) => swaps.some((s) => t >= s.loadAt && t <= s.swapAt);
  const steady = (t: number) =>
    t > start + 500 && swaps.every((s) => t < s.loadAt - WINDOW_MS || t > s.swapAt + WINDOW_MS);
  const row = (label: string, pick: (t: number) => boolean) => {
    const lat = records.filter((r) => pick(r[0])).map((r) => r[1]);
    return [
      label,
      lat.length,
      fmt(percentile(lat, 0.5), 3),
      fmt(percentile(lat, 0.99), 3),
      fmt(
        lat.reduce((a, b) => Math.max(a, b), 0),
        2,
      ),
    ];
  };
  const generationsAnswered = new Set(records.map((r) => r[3]).filter(Boolean)).size;
  const loadMs = swaps.map((s) => s.swapAt - s.loadAt);
  const drainMs = swaps.map((s) => s.releasedAt - s.swapAt);

  console.log(
    `\nSwap under load: ${SWAPS} swaps fp32 <-> int8-dynamic (MLP 784-300-100-10, random weights), every ${INTERVAL_MS} ms, ${CLIENTS} keep-alive clients (HTTP binary, separate process), maxBatch 16 / ${options.maxDelayMs} ms, 1 thread; node ${process.version}\n`,
  );
  console.log(
    table(
      [
        "requests sent",
        "ok",
        "failed",
        "generations that answered",
        "load + warm-up ms (p50 / max)",
        "swap -> old released ms (p50 / max)",
      ],
      [
        [
          res.sent,
          res.ok,
          res.failed,
          generationsAnswered,
          `${fmt(percentile(loadMs, 0.5), 1)} / ${fmt(Math.max(...loadMs), 1)}`,
          `${fmt(percentile(drainMs, 0.5), 2)} / ${fmt(Math.max(...drainMs), 2)}`,
        ],
      ],
    ),
  );
  console.log("");
  console.log(
    table(
      ["requests started", "n", "p50 ms", "p99 ms", "max ms"],
      [
        row("steady state", steady),
        row(`within ${WINDOW_MS} ms of a swap`, near),
        row("during a load + warm-up", inLoad),
      ],
    ),
  );
  if (res.failed > 0) {
    console.error(`FAILED requests: ${res.failed}; first: ${res.firstError}`);
    process.exitCode = 1;
  }
}

await main();
