// The benchmarks' load generator, forked as its own process so that the server's CPU is not
// shared with its clients' JS. Each command (over IPC) runs `concurrency` closed loops of
// keep-alive requests to POST /v1/infer for `durationMs` and answers with what it measured.
import { Agent, request } from "node:http";

export interface LoadCommand {
  url: string;
  mode: "json" | "binary";
  concurrency: number;
  durationMs: number;
  /** One request's input (a single sample), as float32. */
  input: number[];
  dims: number[];
  /** Send every request's [startEpochMs, latencyMs, status, generation] back. */
  recordAll?: boolean;
}

export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  wallMs: number;
  latenciesMs: number[];
  records?: [number, number, number, number][];
  firstError?: string;
}

const epochNow = () => performance.timeOrigin + performance.now();

async function run(cmd: LoadCommand): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: cmd.concurrency });
  const target = new URL("/v1/infer", cmd.url);
  const body =
    cmd.mode === "json"
      ? Buffer.from(JSON.stringify({ input: cmd.input, dims: cmd.dims }))
      : Buffer.from(new Float32Array(cmd.input).buffer);
  const headers = {
    "content-type": cmd.mode === "json" ? "application/json" : "application/octet-stream",
    "content-length": body.byteLength,
    ...(cmd.mode === "binary" ? { "x-edgefleet-dims": cmd.dims.join(",") } : {}),
  };
  const result: LoadResult = { sent: 0, ok: 0, failed: 0, wallMs: 0, latenciesMs: [] };
  if (cmd.recordAll) result.records = [];
  const once = () =>
    new Promise<[number, number]>((resolve) => {
      const req = request(target, { method: "POST", agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode !== 200 && !result.firstError) {
            result.firstError = `${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`;
          }
          resolve([res.statusCode ?? 0, Number(res.headers["x-edgefleet-generation"] ?? 0)]);
        });
        res.on("error", () => resolve([0, 0]));
      });
      req.on("error", (err) => {
        result.firstError ??= String(err);
        resolve([0, 0]);
      });
      req.end(body);
    });
  const t0 = performance.now();
  const stopAt = t0 + cmd.durationMs;
  const loop = async () => {
    while (performance.now() < stopAt) {
      const startEpoch = epochNow();
      const start = performance.now();
      result.sent++;
      const [status, generation] = await once();
      const ms = performance.now() - start;
      if (status === 200) result.ok++;
      else result.failed++;
      result.latenciesMs.push(ms);
      result.records?.push([startEpoch, ms, status, generation]);
    }
  };
  await Promise.all(Array.from({ length: cmd.concurrency }, loop));
  result.wallMs = performance.now() - t0;
  agent.destroy();
  return result;
}

process.on("message", (cmd: LoadCommand) => {
  run(cmd).then(
    (res) => process.send?.(res),
    (err) => process.send?.({ error: String(err) }),
  );
});
