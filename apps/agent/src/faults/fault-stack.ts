// What the agent fault tests share: a real control plane (Postgres, operator-mode nats-server) run
// in the test process, a TCP relay between the agents and NATS (the control plane hands the
// relay's URL to devices at enrollment, so cutting or throttling it cuts or throttles only the
// agents), agent processes on the bundled agent, and ONNX Runtime run directly as the reference.
import { createMlp, exportOnnx } from "@edgefleet/compression";
import { startTcpProxy, type TcpProxy } from "@edgefleet/testkit";
import * as ort from "onnxruntime-node";
import { startTestStack, type TestStack, until } from "../test-stack";
import { type AgentProcess, ensureAgentBundle, startAgentProcess } from "../testing-process";

export interface Reported {
  generation: number;
  phase: string;
  error: string | null;
  serving: { variantId: string } | null;
}

export interface FaultStack {
  stack: TestStack;
  /** Between every agent and NATS. */
  proxy: TcpProxy;
  /** Starts (or, with the same data dir and no token, restarts) an agent process. */
  agent(name: string, dataDir: string, token?: string): Promise<AgentProcess>;
  assign(deviceId: string, variantId: string): Promise<number>;
  /** Waits until the device's report in the control plane is on `generation` in one of `phases`. */
  reported(deviceId: string, generation: number, phases: string[], ms?: number): Promise<Reported>;
  stop(): Promise<void>;
}

export const sample = Float32Array.from({ length: 784 }, (_, i) => ((i * 13) % 17) / 17);

/** An MLP 784-`hidden`-10 of generated weights: `hidden` 8,000 makes a ~25 MB ONNX model. */
export const mlpModel = (hidden: number, seed: number) =>
  exportOnnx(createMlp([784, hidden, 10], seed));

export async function startFaultStack(): Promise<FaultStack> {
  await ensureAgentBundle();
  // Pointed at the real server once it runs (its port is known only then).
  const proxy = await startTcpProxy({ host: "127.0.0.1", port: 9 });
  const stack = await startTestStack({
    natsPublicUrls: [`nats://${proxy.host}:${proxy.port}`],
    // Heartbeats a loaded machine keeps up with, for agents that are processes of their own.
    heartbeatIntervalMs: 500,
    heartbeatTimeoutMs: 5000,
  });
  const natsUrl = new URL(stack.nats.url);
  proxy.retarget({ host: natsUrl.hostname, port: Number(natsUrl.port) });
  const agents: AgentProcess[] = [];
  return {
    stack,
    proxy,
    async agent(name, dataDir, token) {
      const proc = await startAgentProcess({
        name,
        controlPlaneGrpc: stack.cp.grpcAddress,
        dataDir,
        token,
        env: { SIMULATED_CLASS: "x86-gateway" },
      });
      agents.push(proc);
      return proc;
    },
    async assign(deviceId, variantId) {
      const res = await stack.api(`/api/v1/devices/${deviceId}/assignment`, {
        method: "PUT",
        body: JSON.stringify({ variantId, options: {} }),
      });
      if (res.status !== 200)
        throw new Error(`assign: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      return (res.body.desired as { generation: number }).generation;
    },
    reported: (deviceId, generation, phases, ms = 30_000) =>
      until(
        `${deviceId}: generation ${generation} ${phases.join("/")}`,
        async () => {
          const r = await stack.api(`/api/v1/devices/${deviceId}/assignment`);
          const rep = r.body.reported as Reported | null;
          return rep && rep.generation === generation && phases.includes(rep.phase)
            ? rep
            : undefined;
        },
        ms,
        100,
      ),
    async stop() {
      await Promise.all(agents.map((a) => a.process.kill("SIGKILL")));
      await proxy.close();
      await stack.stop();
    },
  };
}

/** What the agent's local HTTP API answers for one sample, and which variant answered. */
export async function inferLocal(
  agent: AgentProcess,
  input: Float32Array = sample,
): Promise<{ status: number; values: number[]; variantId: string | undefined }> {
  const res = await fetch(`${agent.localUrl}/v1/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input: Array.from(input), dims: [1, 784] }),
  });
  const body = (await res.json()) as {
    outputs?: Record<string, { data: number[] }>;
    model?: { variantId: string };
  };
  return {
    status: res.status,
    values: Object.values(body.outputs ?? {})[0]?.data ?? [],
    variantId: body.model?.variantId,
  };
}

/** ONNX Runtime run directly on the model, for one sample. */
export async function ortOutput(model: Uint8Array, input: Float32Array = sample) {
  const session = await ort.InferenceSession.create(model);
  try {
    const out = await session.run({ input: new ort.Tensor("float32", input, [1, 784]) });
    return Array.from(out[session.outputNames[0]].data as Float32Array);
  } finally {
    await session.release();
  }
}

/** Largest absolute difference between two outputs (Infinity when their lengths differ). */
export function maxDiff(a: number[], b: number[]): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  return Math.max(...a.map((v, i) => Math.abs(v - b[i])));
}
