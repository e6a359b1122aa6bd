// Agent footprint: resident memory of a real agent process (the bundle a device runs, under the V8
// settings it can be launched with, and the TypeScript source through tsx for comparison), idle
// with no model, then serving the MNIST-sized MLP (784-300-100-10 fp32, 1.06 MB) after a few
// hundred requests, and what each setting costs in local API throughput (16 concurrent clients,
// binary form, 3 s, client in this process). Memory is read from /proc/<pid>/smaps_rollup: RSS
// split into anonymous (heaps, ORT arenas) and file-backed (the node binary, libonnxruntime).
// The local gRPC API is off (LOCAL_GRPC_PORT=""); it adds ~6 MB when on.
//   npm run build -w @edgefleet/agent && npx tsx bench/footprint.ts      (from apps/agent)
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createMlp, exportOnnx } from "@edgefleet/compression";
import { startTestControlPlane } from "@edgefleet/control-plane/testing";

const here = fileURLToPath(new URL("..", import.meta.url));
const MiB = 2 ** 20;

interface Memory {
  rss: number;
  anonymous: number;
  fileBacked: number;
  private: number;
  shared: number;
}

async function memoryOf(pid: number): Promise<Memory> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) * 1024;
  const rss = kb("Rss");
  const anonymous = kb("Anonymous");
  return {
    rss,
    anonymous,
    fileBacked: rss - anonymous,
    private: kb("Private_Clean") + kb("Private_Dirty"),
    shared: kb("Shared_Clean") + kb("Shared_Dirty"),
  };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const stack = await startTestControlPlane();
const model = exportOnnx(createMlp([784, 300, 100, 10], 1));
const { variantIds } = await stack.importModel({
  name: "mnist-mlp",
  variants: [{ name: "fp32", bytes: model }],
});
const rows: string[] = [];

const bundle = join(here, "dist", "agent.mjs");
for (const [label, args] of [
  ["bundle, V8 defaults", [bundle]],
  ["bundle, --max-semi-space-size=1", ["--max-semi-space-size=1", bundle]],
  [
    "bundle, --max-semi-space-size=1 --lite-mode",
    ["--max-semi-space-size=1", "--lite-mode", bundle],
  ],
  ["source through tsx, V8 defaults", ["--import", "tsx", join(here, "src", "main.ts")]],
] as const) {
  const token = await stack.api("/api/v1/enrollment-tokens", { method: "POST", body: "{}" });
  const dataDir = await mkdtemp(join(tmpdir(), "ef-footprint-"));
  const child = spawn(process.execPath, [...args], {
    cwd: here,
    env: {
      ...process.env,
      CONTROL_PLANE_GRPC: stack.cp.grpcAddress,
      ENROLLMENT_TOKEN: String(token.body.token),
      DATA_DIR: dataDir,
      DEVICE_NAME: "footprint",
      LOCAL_API_PORT: "0",
      LOCAL_GRPC_PORT: "",
      INFERENCE_THREADS: "1",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let log = "";
  child.stdout.on("data", (d) => {
    log += d;
  });
  const localUrl = await until("local API", async () => /"http":"(http:[^"]+)"/.exec(log)?.[1]);
  const deviceId = await until(
    "enrolled",
    async () => /"deviceId":"([0-9a-f-]{36})"/.exec(log)?.[1],
  );
  await until("profile reported", async () =>
    (await stack.api(`/api/v1/devices/${deviceId}/profile`)).status === 200 ? true : undefined,
  );
  await new Promise((r) => setTimeout(r, 3_000));
  const idle = await memoryOf(child.pid!);

  await stack.api(`/api/v1/devices/${deviceId}/assignment`, {
    method: "PUT",
    body: JSON.stringify({ variantId: variantIds.get("fp32") }),
  });
  await until("variant applied", async () => {
    const r = await stack.api(`/api/v1/devices/${deviceId}/assignment`);
    return (r.body as { inSync?: boolean }).inSync ? true : undefined;
  });
  const input = JSON.stringify({ input: Array.from({ length: 784 }, (_, i) => (i % 10) / 10) });
  for (let i = 0; i < 500; i++) {
    const res = await fetch(`${localUrl}/v1/infer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: input,
    });
    if (res.status !== 200) throw new Error(`infer: HTTP ${res.status}`);
    await res.arrayBuffer();
  }
  await new Promise((r) => setTimeout(r, 2_000));
  const serving = await memoryOf(child.pid!);
  const throughput = await closedLoop(localUrl, 16, 3_000);
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  await rm(dataDir, { recursive: true, force: true });

  const f = (b: number) => (b / MiB).toFixed(1);
  for (const [state, m] of [
    ["idle, no model", idle],
    ["serving MNIST MLP", serving],
  ] as const) {
    const rate = state === "idle, no model" ? "" : String(Math.round(throughput));
    rows.push(
      `| ${label} | ${state} | ${f(m.rss)} | ${f(m.anonymous)} | ${f(m.fileBacked)} | ${f(m.private)} | ${f(m.shared)} | ${rate} |`,
    );
  }
}
await stack.stop();

console.log(
  "| agent | state | RSS MiB | anonymous MiB | file-backed MiB | private MiB | shared MiB | req/s, 16 clients |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) console.log(r);

/** Requests per second from `clients` concurrent keep-alive loops (binary form, batch 1). */
async function closedLoop(url: string, clients: number, ms: number): Promise<number> {
  const { Agent, request } = await import("node:http");
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const body = Buffer.from(new Float32Array(784).fill(0.5).buffer);
  const target = new URL(`${url}/v1/infer`);
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        target,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/octet-stream", "x-edgefleet-dims": "1,784" },
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  let done = 0;
  const end = Date.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < end) {
        await one();
        done++;
      }
    }),
  );
  agent.destroy();
  return done / ((performance.now() - t0) / 1000);
}
