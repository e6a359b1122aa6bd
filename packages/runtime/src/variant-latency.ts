import { DataType, decodeModel, requireGraph, runtimeInputs } from "@edgefleet/onnx";
import * as ort from "onnxruntime-node";
import {
  type DeviceClassName,
  deviceClass,
  type LatencyFigures,
  simulateLatency,
} from "./device-classes";
import type { KernelType } from "./microbench";
import { createSession, type LatencyStats, measureLatency } from "./session";

export interface VariantLatencyOptions {
  threads: number;
  /** The rollout's batch; batch 1 is always measured too. */
  batch: number;
  warmup?: number;
  iterations?: number;
  /** Fold weight-only DequantizeLinear at load, as the agent does when serving. */
  disableQuantQdq?: boolean;
  /** Report for a simulated class: scaled by the class's slowdown of `kernel`. */
  simulatedClass?: DeviceClassName;
  /** Kernel type doing most of the variant's work (decides the simulated slowdown). */
  kernel?: KernelType;
}

export interface VariantLatency {
  threads: number;
  batch: number;
  batch1: LatencyFigures & { samples: number };
  batchN: LatencyFigures & { samples: number };
  loadMs: number;
  simulated: boolean;
  deviceClass: string;
  /** What this host really measured, kept whenever the figures above are derived. */
  measured?: { batch1: LatencyFigures; batchN: LatencyFigures; loadMs: number };
}

export class VariantInputError extends Error {
  override name = "VariantInputError";
}

/** The single float input's name and per-sample dims (everything after the batch axis). */
export function describeInput(modelBytes: Uint8Array): { name: string; sampleDims: number[] } {
  const graph = requireGraph(decodeModel(modelBytes));
  const inputs = runtimeInputs(graph);
  if (inputs.length !== 1) {
    throw new VariantInputError(`expected one runtime input, found ${inputs.length}`);
  }
  const t = inputs[0].type?.tensorType;
  if (t?.elemType !== DataType.FLOAT) {
    throw new VariantInputError(`input ${inputs[0].name} is not float32`);
  }
  const dims = (t.shape?.dim ?? []).slice(1).map((d) => Number(d.dimValue ?? 0));
  if (dims.some((d) => !(d > 0))) {
    throw new VariantInputError(`input ${inputs[0].name} has a non-static sample shape`);
  }
  return { name: inputs[0].name ?? "", sampleDims: dims };
}

/** Latency at batch 1 and at the rollout's batch, best/median/p90, on this device. */
export async function measureVariantLatency(
  modelBytes: Uint8Array,
  options: VariantLatencyOptions,
): Promise<VariantLatency> {
  const input = describeInput(modelBytes);
  const t0 = performance.now();
  const session = await createSession(modelBytes, {
    threads: options.threads,
    disableQuantQdq: options.disableQuantQdq,
  });
  const loadMs = performance.now() - t0;
  try {
    const run = async (batch: number): Promise<LatencyStats> => {
      const per = input.sampleDims.reduce((a, b) => a * b, 1);
      const data = new Float32Array(per * batch);
      for (let i = 0; i < data.length; i++) data[i] = ((i * 37) % 101) / 101;
      const feeds = { [input.name]: new ort.Tensor("float32", data, [batch, ...input.sampleDims]) };
      return measureLatency(session, feeds, {
        warmup: options.warmup ?? 5,
        iterations: options.iterations ?? 30,
      });
    };
    const batch1 = await run(1);
    const batchN = options.batch === 1 ? batch1 : await run(options.batch);
    const base = { threads: options.threads, batch: options.batch };
    if (!options.simulatedClass) {
      return { ...base, loadMs, batch1, batchN, simulated: false, deviceClass: "" };
    }
    const spec = deviceClass(options.simulatedClass);
    const kernel = options.kernel ?? "fp32";
    const s1 = simulateLatency(batch1, spec, kernel);
    const sN = simulateLatency(batchN, spec, kernel);
    return {
      ...base,
      batch1: { ...pick(s1), samples: batch1.samples },
      batchN: { ...pick(sN), samples: batchN.samples },
      loadMs: loadMs * spec.loadSlowdown,
      simulated: true,
      deviceClass: spec.name,
      measured: { batch1: pick(batch1), batchN: pick(batchN), loadMs },
    };
  } finally {
    await session.release();
  }
}

function pick(l: LatencyFigures): LatencyFigures {
  return { bestMs: l.bestMs, medianMs: l.medianMs, p90Ms: l.p90Ms };
}
