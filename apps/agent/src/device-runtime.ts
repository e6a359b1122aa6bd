// The agent's bindings to @edgefleet/runtime: facts (in process, no ONNX Runtime), and profile
// and latency measurements, which run in the probe child process (probe/), so the agent itself
// loads ONNX Runtime only to serve a model.
import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  DeviceProfileJson,
  HardwareFactsJson,
  KernelType,
  MeasureLatencyReply,
} from "@edgefleet/protocol";
import {
  type DeviceClassSpec,
  deviceClass,
  readHardwareFacts,
  simulateFacts,
} from "@edgefleet/runtime/facts";
import { defaultProbeEntry, type ProbeEntry, runProbe } from "./probe/probe-client";
import type { RpcHandlers } from "./rpc-handlers";

export interface DeviceRuntimeOptions {
  threads: number;
  /** "" for the real machine. */
  simulatedClass: string;
  microbench?: { rounds?: number; runsPerRound?: number; dramBytes?: number };
  probe?: ProbeEntry;
  /** Caps a simulated class's memory below its default (a small device of a fast class). */
  memoryCapBytes?: number;
}

export interface DeviceRuntime {
  threads: number;
  /** "" for the real machine. */
  simulatedClass: string;
  /** The simulated class's spec; undefined on a real device. */
  spec: DeviceClassSpec | undefined;
  readFacts(): Promise<HardwareFactsJson>;
  measureProfile(): Promise<DeviceProfileJson>;
  measureLatency: RpcHandlers["measureLatency"];
}

interface VariantLatencyResult {
  threads: number;
  simulated: boolean;
  deviceClass: string;
  batch1: { bestMs: number; medianMs: number; p90Ms: number };
  batchN: { bestMs: number; medianMs: number; p90Ms: number };
}

export function deviceRuntime(options: DeviceRuntimeOptions): DeviceRuntime {
  // Throws UnknownDeviceClassError naming the class for a typo, before anything starts.
  const base: DeviceClassSpec | undefined = options.simulatedClass
    ? deviceClass(options.simulatedClass)
    : undefined;
  const cap = options.memoryCapBytes;
  const spec =
    base && cap !== undefined
      ? { ...base, memoryCapBytes: Math.min(base.memoryCapBytes, cap) }
      : base;
  const probe = options.probe ?? defaultProbeEntry();
  const simulatedClass = spec?.name ?? "";
  return {
    threads: options.threads,
    simulatedClass,
    spec,
    async readFacts() {
      const host = await readHardwareFacts();
      return spec ? simulateFacts(host, spec) : host;
    },
    async measureProfile() {
      const profile = await runProbe(probe, {
        op: "profile",
        threads: options.threads,
        simulatedClass,
        microbench: options.microbench,
      });
      const p = profile as DeviceProfileJson;
      // The probe knows the class by name only: apply a narrower memory cap here.
      if (spec && cap !== undefined) {
        p.figures.memoryBudgetBytes = Math.min(p.figures.memoryBudgetBytes, spec.memoryCapBytes);
      }
      return p;
    },
    async measureLatency(model, variantId, batch, kernel?: KernelType) {
      const modelPath = join(tmpdir(), `ef-probe-${randomBytes(6).toString("hex")}`);
      await writeFile(modelPath, model, { mode: 0o600 });
      try {
        const m = (await runProbe(probe, {
          op: "measure-latency",
          threads: options.threads,
          simulatedClass,
          modelPath,
          batch,
          kernel,
        })) as VariantLatencyResult;
        return {
          ok: true,
          variantId,
          threads: m.threads,
          simulated: m.simulated,
          deviceClass: m.deviceClass,
          batch1: pickFigures(m.batch1),
          batchN: { ...pickFigures(m.batchN), batch },
        } satisfies Extract<MeasureLatencyReply, { ok: true }>;
      } finally {
        await rm(modelPath, { force: true });
      }
    },
  };
}

function pickFigures(f: { bestMs: number; medianMs: number; p90Ms: number }) {
  return { bestMs: f.bestMs, medianMs: f.medianMs, p90Ms: f.p90Ms };
}
