import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cloneModel,
  DataType,
  decodeModel,
  encodeModel,
  inferShapes,
  type ModelProto,
  opHistogram,
  valueInfo,
} from "@edgefleet/onnx";
import {
  type CreateSessionOptions,
  createSession,
  floatTensor,
  type LatencyStats,
  measureLatency,
  run,
  type Session,
} from "@edgefleet/runtime";

export interface ModelInput {
  name: string;
  /** dims of one sample, e.g. [784] or [1, 28, 28] or [3, 48, 320] */
  sampleDims: readonly number[];
}

/** Runs `n` samples through the model in chunks and concatenates the first output. */
export async function predictAll(
  session: Session,
  input: ModelInput,
  x: Float32Array,
  n: number,
  chunk = 256,
): Promise<{ data: Float32Array; rowSize: number }> {
  const per = input.sampleDims.reduce((a, b) => a * b, 1);
  const parts: Float32Array[] = [];
  let rowSize = 0;
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const out = await run(session, {
      [input.name]: floatTensor(x.subarray(s * per, (s + m) * per), [m, ...input.sampleDims]),
    });
    const t = out[session.outputNames[0]];
    const data = t.data as Float32Array;
    rowSize = data.length / m;
    parts.push(data);
  }
  const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.length;
  }
  return { data, rowSize };
}

/** Latency at a batch size, with inputs taken (cycled) from `x`. */
export async function latencyAt(
  session: Session,
  input: ModelInput,
  x: Float32Array,
  batch: number,
  iterations: number,
): Promise<LatencyStats> {
  const per = input.sampleDims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(batch * per);
  for (let i = 0; i < data.length; i++) data[i] = x[i % x.length];
  return measureLatency(
    session,
    { [input.name]: floatTensor(data, [batch, ...input.sampleDims]) },
    { warmup: Math.max(3, iterations >> 2), iterations },
  );
}

/** Concrete shape of every tensor, found by running one sample with all tensors exposed. */
export async function probeShapes(
  model: ModelProto,
  input: ModelInput,
): Promise<Map<string, number[]>> {
  const m = cloneModel(model);
  const g = m.graph ?? {};
  // Only tensors of known type are exposed: ORT refuses an output declared with the wrong type.
  const types = inferShapes(g, {}, { lenient: true });
  const existing = new Set((g.output ?? []).map((o) => o.name));
  const extra = (g.node ?? [])
    .flatMap((n) => n.output ?? [])
    .filter((o) => o && !existing.has(o) && types.has(o))
    .map((o) => valueInfo(o, types.get(o)?.dtype ?? DataType.FLOAT));
  g.output = [...(g.output ?? []), ...extra];
  const session = await createSession(encodeModel(m), { threads: 1 });
  try {
    const per = input.sampleDims.reduce((a, b) => a * b, 1);
    const x = floatTensor(new Float32Array(per).fill(0.5), [1, ...input.sampleDims]);
    const out = await run(session, { [input.name]: x });
    const shapes = new Map(Object.entries(out).map(([k, v]) => [k, [...v.dims]]));
    shapes.set(input.name, [1, ...input.sampleDims]);
    return shapes;
  } finally {
    await session.release();
  }
}

export interface KernelReport {
  /** op histogram of the graph ORT actually runs after its fusions */
  optimizedOps: Record<string, number>;
  /** microseconds per op type over the profiled runs (ORT profiler) */
  kernelTimeUs: Record<string, number>;
}

/** Which kernels ONNX Runtime runs for this model, and where the time goes. */
export async function kernelReport(
  bytes: Uint8Array,
  input: ModelInput,
  options: CreateSessionOptions = {},
  runs = 5,
): Promise<KernelReport> {
  const dir = await mkdtemp(join(tmpdir(), "ef-kernels-"));
  try {
    const optimizedModelFilePath = join(dir, "optimized.onnx");
    const session = await createSession(bytes, {
      ...options,
      optimizedModelFilePath,
      profileFilePrefix: join(dir, "profile"),
    });
    const per = input.sampleDims.reduce((a, b) => a * b, 1);
    const feeds = {
      [input.name]: floatTensor(new Float32Array(per).fill(0.5), [1, ...input.sampleDims]),
    };
    for (let i = 0; i < runs; i++) await session.run(feeds);
    session.endProfiling();
    await session.release();
    const optimized = decodeModel(await readFile(optimizedModelFilePath));
    const profile = (await readdir(dir)).find(
      (f) => f.startsWith("profile") && f.endsWith(".json"),
    );
    const kernelTimeUs: Record<string, number> = {};
    if (profile) {
      const events = JSON.parse(await readFile(join(dir, profile), "utf8")) as ProfileEvent[];
      for (const e of events) {
        if (e.cat !== "Node" || !e.name?.endsWith("_kernel_time") || !e.args?.op_name) continue;
        kernelTimeUs[e.args.op_name] = (kernelTimeUs[e.args.op_name] ?? 0) + (e.dur ?? 0);
      }
    }
    return { optimizedOps: opHistogram(optimized.graph ?? {}), kernelTimeUs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface ProfileEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

export async function openVariant(
  bytes: Uint8Array,
  runtime: { disableQuantQdq: boolean },
  threads = 1,
): Promise<Session> {
  return createSession(bytes, { threads, disableQuantQdq: runtime.disableQuantQdq });
}
