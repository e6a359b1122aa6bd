// The probe: a short-lived child process that measures this device (profile microbenchmarks,
// a variant's latency) so the agent itself never loads ONNX Runtime for it. The benchmarks
// allocate hundreds of MB (a memory-bandwidth initializer) that a long-lived agent would keep
// mapped; a native crash here costs a measurement, not the agent.
// Protocol: one JSON request on stdin, one JSON reply on stdout.
import { readFile } from "node:fs/promises";
import { isPackedModel, unpackModel } from "@edgefleet/artifact";
import { type DeviceClassName, measureProfile, measureVariantLatency } from "@edgefleet/runtime";
import { type ProbeReply, probeRequestSchema } from "./probe-protocol";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function answer(): Promise<ProbeReply> {
  const req = probeRequestSchema.parse(JSON.parse(await readStdin()));
  const simulatedClass = (req.simulatedClass || undefined) as DeviceClassName | undefined;
  if (req.op === "profile") {
    const profile = await measureProfile({
      threads: req.threads,
      simulatedClass,
      microbench: req.microbench,
    });
    return { ok: true, result: profile };
  }
  const bytes = new Uint8Array(await readFile(req.modelPath));
  const onnx = isPackedModel(bytes) ? unpackModel(bytes) : bytes;
  const m = await measureVariantLatency(onnx, {
    threads: req.threads,
    batch: req.batch,
    simulatedClass,
    kernel: req.kernel,
  });
  return { ok: true, result: m };
}

answer()
  .catch(
    (err: unknown): ProbeReply => ({
      ok: false,
      error: err instanceof Error ? `${err.name}: ${err.message.split("\n")[0]}` : String(err),
    }),
  )
  .then((reply) => {
    process.stdout.write(`${JSON.stringify(reply)}\n`, () => process.exit(0));
  });
