// The agent's bindings to @edgefleet/runtime: facts, profile and latency measurement for the real
// machine or a simulated device class.
import { isPackedModel, unpackModel } from "@edgefleet/artifact";
import type { DeviceProfileJson, HardwareFactsJson } from "@edgefleet/protocol";
import {
  type DeviceClassName,
  type DeviceClassSpec,
  deviceClass,
  type MicrobenchOptions,
  measureProfile,
  measureVariantLatency,
  readHardwareFacts,
  simulateFacts,
} from "@edgefleet/runtime";
import type { RpcHandlers } from "./rpc-handlers";

export interface DeviceRuntimeOptions {
  threads: number;
  /** "" for the real machine. */
  simulatedClass: string;
  microbench?: Omit<MicrobenchOptions, "threads">;
}

export interface DeviceRuntime {
  threads: number;
  /** "" for the real machine. */
  simulatedClass: string;
  readFacts(): Promise<HardwareFactsJson>;
  measureProfile(): Promise<DeviceProfileJson>;
  measureLatency: RpcHandlers["measureLatency"];
}

export function deviceRuntime(options: DeviceRuntimeOptions): DeviceRuntime {
  // Throws UnknownDeviceClassError naming the class for a typo, before anything starts.
  const spec: DeviceClassSpec | undefined = options.simulatedClass
    ? deviceClass(options.simulatedClass)
    : undefined;
  const simulatedClass = spec?.name as DeviceClassName | undefined;
  return {
    threads: options.threads,
    simulatedClass: spec?.name ?? "",
    async readFacts() {
      const host = await readHardwareFacts();
      return spec ? simulateFacts(host, spec) : host;
    },
    async measureProfile() {
      const profile = await measureProfile({
        threads: options.threads,
        simulatedClass,
        microbench: options.microbench,
      });
      return profile as unknown as DeviceProfileJson;
    },
    async measureLatency(model, variantId, batch) {
      const onnx = isPackedModel(model) ? unpackModel(model) : model;
      const m = await measureVariantLatency(onnx, {
        threads: options.threads,
        batch,
        simulatedClass,
      });
      return {
        ok: true,
        variantId,
        threads: m.threads,
        simulated: m.simulated,
        deviceClass: m.deviceClass,
        batch1: pickFigures(m.batch1),
        batchN: { ...pickFigures(m.batchN), batch },
      };
    },
  };
}

function pickFigures(f: { bestMs: number; medianMs: number; p90Ms: number }) {
  return { bestMs: f.bestMs, medianMs: f.medianMs, p90Ms: f.p90Ms };
}
