/**
 * Prediction accuracy on this machine: every variant of an MNIST catalogue, at 1 and 2 threads,
 * batch 1 and 64, predicted (from this machine's measured profile) vs measured latency.
 * Corrections are scored held-apart: each variant's prediction is corrected by a model fitted
 * only on the OTHER variants' measurements (leave-one-variant-out), and a second protocol fits
 * on one thread count and scores the other.
 *
 * Measured latency: median of `rounds` rounds (each a median of 25 runs), rounds in shuffled
 * order. Run: npx tsx packages/planner/bench/prediction-accuracy.ts <catalogue dir> [rounds]
 * The catalogue comes from: node apps/cli/bin/edgefleet.mjs compress --model builtin:mnist-mlp \
 *   --data mnist --out <dir>
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { unpackModel } from "@edgefleet/artifact";
import {
  analyzeVariant,
  type DeviceProfile,
  measureProfile,
  measureVariantLatency,
} from "@edgefleet/runtime";
import {
  capabilitiesFromProfile,
  correctionFor,
  correctionKey,
  type DeviceCapabilities,
  fitCorrection,
  type LatencyObservation,
  median,
  predictLatency,
  quantile,
  type VariantCost,
} from "../src/index";

const dir = process.argv[2];
const rounds = Number(process.argv[3] ?? 3);
if (!dir) throw new Error("usage: prediction-accuracy.ts <catalogue dir> [rounds]");
const THREADS = [1, 2];
const BATCHES = [1, 64];

interface Entry {
  id: string;
  status: string;
  accuracy?: number;
  artifact?: { file: string; format: "onnx" | "packed"; bytes: number };
  runtime?: { disableQuantQdq: boolean };
}

interface Loaded {
  cost: VariantCost;
  onnx: Uint8Array;
  disableQuantQdq: boolean;
}

async function loadCatalogue(): Promise<Loaded[]> {
  const cat = JSON.parse(await readFile(join(dir, "catalogue.json"), "utf8"));
  const out: Loaded[] = [];
  for (const e of cat.variants as Entry[]) {
    if (e.status !== "ok" || !e.artifact) continue;
    const shipped = new Uint8Array(await readFile(join(dir, e.artifact.file)));
    const onnx = e.artifact.format === "packed" ? unpackModel(shipped) : shipped;
    const disableQuantQdq = e.runtime?.disableQuantQdq ?? false;
    const facts = await analyzeVariant(onnx, { disableQuantQdq });
    out.push({
      onnx,
      disableQuantQdq,
      cost: {
        id: e.id,
        accuracy: e.accuracy ?? 0,
        artifactBytes: e.artifact.bytes,
        runtimeWeightBytes: facts.runtimeWeightBytes,
        flops: facts.flops,
        opCount: facts.opCount,
        activationBytes: facts.activationBytes,
      },
    });
  }
  return out;
}

interface Point {
  variant: string;
  threads: number;
  batch: number;
  device: DeviceCapabilities;
  cost: VariantCost;
  measuredMs: number;
  rawMs: number;
  key: string;
}

const ape = (pred: number, meas: number) => Math.abs(pred - meas) / meas;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function summarize(label: string, errs: number[]) {
  return `${label.padEnd(44)} median ${pct(median(errs)).padStart(6)}  p90 ${pct(quantile(errs, 0.9)).padStart(6)}  (n=${errs.length})`;
}

function observation(p: Point): LatencyObservation {
  return {
    deviceId: p.device.deviceId,
    deviceClass: p.device.deviceClass,
    variantId: p.variant,
    key: p.key,
    batch: p.batch,
    predictedMs: p.rawMs,
    measuredMs: p.measuredMs,
  };
}

function corrected(p: Point, train: Point[]): number {
  const model = fitCorrection(train.map(observation));
  return p.rawMs * correctionFor(model, p.device, p.key).factor;
}

async function main() {
  const t0 = performance.now();
  const variants = await loadCatalogue();
  console.log(`catalogue ${dir}: ${variants.length} runnable variants`);
  const devices = new Map<number, DeviceCapabilities>();
  const profiles: DeviceProfile[] = [];
  for (const threads of THREADS) {
    const profile = await measureProfile({ threads });
    profiles.push(profile);
    devices.set(
      threads,
      capabilitiesFromProfile(`host-t${threads}`, profile, { deviceClass: "host" }),
    );
    const k = profile.figures.kernels;
    const g = (x: number) => (x / 1e9).toFixed(1);
    console.log(
      `profile t${threads} (${(profile.durationMs / 1000).toFixed(1)} s): fp32 ${g(k.fp32.opsPerSecond.best)} GFLOP/s, ` +
        `int8 ${g(k.int8.opsPerSecond.best)} GOP/s (${k.int8.status}), int4 ${g(k.int4.opsPerSecond.best)} GOP/s (${k.int4.status}), ` +
        `fp16 ${k.fp16.status}, DRAM ${g(profile.figures.memoryBandwidthBytesPerSecond.best)} GB/s, ` +
        `run ${profile.figures.runOverheadMs.best.toFixed(3)} ms, per-op ${profile.figures.perOpOverheadMs.best.toFixed(4)} ms, ` +
        `load ${profile.figures.modelLoadMs.best.toFixed(1)} ms (best of interleaved rounds, used for planning)`,
    );
  }
  // Interleave rounds, each in a different order, so a burst of load from other processes
  // hits different variants each time and the median over rounds discards it.
  const samples = new Map<string, number[]>();
  let seed = 7;
  const shuffled = <T>(xs: T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      const j = seed % (i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
  for (let r = 0; r < rounds; r++) {
    const jobs = shuffled(THREADS.flatMap((threads) => variants.map((v) => ({ threads, v }))));
    for (const { threads, v } of jobs) {
      const l = await measureVariantLatency(v.onnx, {
        threads,
        batch: 64,
        iterations: 25,
        disableQuantQdq: v.disableQuantQdq,
      });
      for (const [batch, ms] of [
        [1, l.batch1.medianMs],
        [64, l.batchN.medianMs],
      ]) {
        const key = `${v.cost.id}|${threads}|${batch}`;
        samples.set(key, [...(samples.get(key) ?? []), ms]);
      }
    }
  }
  const points: Point[] = [];
  for (const v of variants) {
    for (const threads of THREADS) {
      for (const batch of BATCHES) {
        const device = devices.get(threads)!;
        const b = predictLatency(v.cost, device, batch);
        points.push({
          variant: v.cost.id,
          threads,
          batch,
          device,
          cost: v.cost,
          measuredMs: median(samples.get(`${v.cost.id}|${threads}|${batch}`)!),
          rawMs: b.totalMs,
          key: correctionKey(b),
        });
      }
    }
  }
  const lovo = points.map((p) =>
    corrected(
      p,
      points.filter((q) => q.variant !== p.variant),
    ),
  );
  const transfer = points.map((p) =>
    corrected(
      p,
      points.filter((q) => q.threads !== p.threads && q.variant !== p.variant),
    ),
  );

  console.log("\nvariant                        thr batch  measured  predicted  corrected(LOVO)");
  points.forEach((p, i) => {
    console.log(
      `${p.variant.padEnd(30)} ${String(p.threads).padStart(3)} ${String(p.batch).padStart(5)} ` +
        `${p.measuredMs.toFixed(3).padStart(9)} ${p.rawMs.toFixed(3).padStart(10)} ${lovo[i].toFixed(3).padStart(10)}`,
    );
  });
  const raw = points.map((p) => ape(p.rawMs, p.measuredMs));
  const after = points.map((p, i) => ape(lovo[i], p.measuredMs));
  const xfer = points.map((p, i) => ape(transfer[i], p.measuredMs));
  console.log("");
  console.log(summarize("before correction (profile only)", raw));
  console.log(summarize("after correction, leave-one-variant-out", after));
  console.log(summarize("after correction, fit on the other thread count", xfer));
  for (const threads of THREADS) {
    for (const batch of BATCHES) {
      const idx = points.flatMap((p, i) => (p.threads === threads && p.batch === batch ? [i] : []));
      console.log(
        `${summarize(
          `  t${threads} b${batch}: before`,
          idx.map((i) => raw[i]),
        )}   after ${pct(median(idx.map((i) => after[i])))}`,
      );
    }
  }
  console.log(
    `\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s, ${rounds} interleaved rounds`,
  );
  const out = process.env.PLANNER_BENCH_JSON;
  if (out) {
    const rows = points.map((p, i) => ({
      variant: p.variant,
      threads: p.threads,
      batch: p.batch,
      measuredMs: p.measuredMs,
      predictedMs: p.rawMs,
      correctedMs: lovo[i],
      transferCorrectedMs: transfer[i],
      key: p.key,
    }));
    await writeFile(out, JSON.stringify({ profiles, rows }, null, 2));
  }
}

await main();
