// Test fixtures for fleet-sim's *.int.test.ts: temp fleet files, enrollment tokens, small artifacts.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestControlPlane } from "@edgefleet/control-plane/testing";
import { SimulationModel } from "./model";
import { DEFAULT_HOST_FIGURES } from "./profile";

export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "ef-fleet-sim-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export async function newEnrollmentToken(stack: TestControlPlane, maxUses: number) {
  const res = await stack.api("/api/v1/enrollment-tokens", {
    method: "POST",
    body: JSON.stringify({ label: "fleet-sim", maxUses, expiresInSeconds: 600 }),
  });
  if (res.status !== 201) throw new Error(`enrollment token: HTTP ${res.status}`);
  return res.body.token as string;
}

/** Two variants of made-up bytes (the simulator never parses them). */
export async function importTwoVariants(stack: TestControlPlane) {
  return stack.importModel({
    name: "sim-model",
    variants: [
      { name: "fp32", bytes: randomBytes(3_000), accuracy: 0.98 },
      { name: "int8-static", bytes: randomBytes(1_500), accuracy: 0.975, kernelType: "int8" },
    ],
  });
}

/**
 * Three fp32 variants of falling cost and accuracy whose FLOPs are chosen so the planner's
 * predictions agree with the simulation model's default latencies (base latency x the stated
 * host's best fp32 throughput, the figure the planner reads: a class's predicted latency and its
 * simulated median then match up to dispatch overhead): "fp32" (0.25 ms on the host), "pruned-50" (0.15 ms), "distilled-student" (0.05 ms).
 */
export async function importThreeVariants(stack: TestControlPlane) {
  const model = new SimulationModel();
  const hostOps = DEFAULT_HOST_FIGURES.kernels.fp32.opsPerSecond.best;
  const v = (name: string, bytes: number) => {
    const m = model.variant(name);
    const flops = (m.baseLatencyMs / 1000) * hostOps;
    return { name, bytes: randomBytes(bytes), accuracy: m.canaryAccuracy, flops };
  };
  return stack.importModel({
    name: "sim-model-3",
    variants: [v("fp32", 3_000), v("pruned-50", 1_500), v("distilled-student", 600)],
  });
}

export async function assign(stack: TestControlPlane, deviceId: string, variantId: string | null) {
  const res = await stack.api(`/api/v1/devices/${deviceId}/assignment`, {
    method: "PUT",
    body: JSON.stringify({ variantId }),
  });
  if (res.status !== 200) throw new Error(`assign: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body.desired as { generation: number }).generation;
}
