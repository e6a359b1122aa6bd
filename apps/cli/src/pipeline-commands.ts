// `edgefleet pipelines create|list|show|infer|stop`: pipeline-split inference over REST.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { InferView, PipelineView } from "@edgefleet/protocol";
import { type Command, Option } from "commander";
import { callApi } from "./api-client";
import { type Cli, flag, print, remote, run } from "./context";
import { ApiError, CliInputError } from "./errors";
import { columns } from "./table";

function table(headers: string[], rows: string[][]): string {
  return columns(
    headers.map((header, i) => ({ header, cell: (r: string[]) => r[i] })),
    rows,
  );
}

const FLAGS: Record<string, string> = {
  variantId: "--variant",
  deviceIds: "--devices",
  objective: "--objective",
  precisions: "--precisions",
  strategy: "--strategy",
  input: "--input",
};

/** A refusal of the control plane in terms of the flag that set the field. */
function byFlag(err: unknown): never {
  if (err instanceof ApiError && err.field) {
    const f = FLAGS[err.field.split(".")[0]];
    if (f) throw new CliInputError(`${f} (${err.message})`);
  }
  throw err;
}

const csv = flag((v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);

export function formatPipeline(p: PipelineView): string {
  const head = `${p.name} (${p.id}): ${p.status}, plan ${p.planVersion}, ${p.strategy}, ${p.objective}`;
  const rows = p.stages.map((s) => [
    String(s.index + 1),
    s.deviceId,
    `${s.segments[0] + 1}-${s.segments[1] + 1}`,
    s.precision,
    `${(s.sizeBytes / 1e6).toFixed(1)} MB`,
    `${s.predictedComputeMs.toFixed(2)} ms`,
  ]);
  const predicted = `predicted: bottleneck ${p.predicted.bottleneckMs.toFixed(2)} ms, latency ${p.predicted.latencyMs.toFixed(2)} ms, ${p.predicted.throughputPerSecond.toFixed(0)} req/s`;
  return [
    head,
    table(["stage", "device", "layers", "precision", "size", "compute"], rows),
    predicted,
    ...p.reasons.map((r) => `  ${r}`),
    ...(p.error ? [`error: ${p.error}`] : []),
  ].join("\n");
}

async function readInput(spec: string): Promise<number[] | number[][]> {
  if (spec.startsWith("mnist:")) {
    const digit = Number(spec.slice(6));
    if (!Number.isInteger(digit) || digit < 0 || digit > 9) {
      throw new CliInputError("--input mnist:<digit> takes a digit 0-9");
    }
    // The first image of that digit in the mnist package (no download: it ships the digits).
    const mnist = createRequire(import.meta.url)("mnist") as { get(i: number): number[] }[];
    return mnist[digit].get(0);
  }
  try {
    const parsed = JSON.parse(await readFile(spec, "utf8")) as { input?: unknown } | unknown[];
    const input = Array.isArray(parsed) ? parsed : parsed.input;
    if (!Array.isArray(input)) throw new Error("no input array");
    return input as number[] | number[][];
  } catch (err) {
    throw new CliInputError(
      `--input ${spec}: not a JSON array or {"input": [...]} (${(err as Error).message})`,
    );
  }
}

export function addPipelineCommands(program: Command, cli: Cli): void {
  const pipelines = program
    .command("pipelines")
    .description("Models split into stages across devices (pipeline-split inference)");
  remote(
    pipelines
      .command("create")
      .description("Split a variant across devices, placed by the cost model, and start it")
      .requiredOption("--variant <id>", "catalogue variant id (fp32)")
      .requiredOption("--devices <id,...>", "device ids the pipeline may use", csv)
      .addOption(
        new Option("--objective <name>", "what placement minimises").choices([
          "throughput",
          "latency",
        ]),
      )
      .option("--precisions <p,...>", "precisions a stage may use: fp32,int8", csv)
      .addOption(
        new Option("--strategy <name>", "placement").choices(["cost-model", "memory-proportional"]),
      )
      .option("--name <name>", "a name (default model-variant)")
      .option("--json", "print the pipeline as JSON"),
  ).action(
    run(cli, async (o) => {
      const target = await cli.target(o);
      const body = {
        variantId: o.variant,
        deviceIds: o.devices,
        ...(o.objective ? { objective: o.objective } : {}),
        ...(o.precisions ? { precisions: o.precisions } : {}),
        ...(o.strategy ? { strategy: o.strategy } : {}),
        ...(o.name ? { name: o.name } : {}),
      };
      process.stderr.write("measuring links, splitting and loading the stages...\n");
      const p = await callApi<PipelineView>(target, "POST", "/api/v1/pipelines", body).catch(
        byFlag,
      );
      print(o.json, p, () => formatPipeline(p));
    }),
  );
  remote(
    pipelines.command("list").description("Every pipeline").option("--json", "print JSON"),
  ).action(
    run(cli, async (o) => {
      const { items } = await callApi<{ items: PipelineView[] }>(
        await cli.target(o),
        "GET",
        "/api/v1/pipelines",
      );
      print(o.json, items, () =>
        table(
          ["id", "name", "status", "plan", "stages"],
          items.map((p) => [
            p.id,
            p.name,
            p.status,
            String(p.planVersion),
            String(p.stages.length),
          ]),
        ),
      );
    }),
  );
  remote(
    pipelines
      .command("show <id>")
      .description("A pipeline's stages, prediction and reasons")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const p = await callApi<PipelineView>(
        await cli.target(o),
        "GET",
        `/api/v1/pipelines/${encodeURIComponent(id)}`,
      );
      print(o.json, p, () => formatPipeline(p));
    }),
  );
  remote(
    pipelines
      .command("infer <id>")
      .description("Send one input (or a batch) through the pipeline")
      .requiredOption(
        "--input <file|mnist:<digit>>",
        'a JSON array (or {"input": [...]}) or a digit of the mnist package',
      )
      .option("--json", "print the answer as JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const input = await readInput(o.input);
      const r = await callApi<InferView>(
        await cli.target(o),
        "POST",
        `/api/v1/pipelines/${encodeURIComponent(id)}/infer`,
        { input },
      ).catch(byFlag);
      print(o.json, r, () => {
        const top = r.output.indexOf(Math.max(...r.output));
        return `request ${r.requestId}: plan ${r.planVersion}, ${r.attempts} attempt(s), ${r.ms.toFixed(1)} ms\noutput [${r.dims.join(", ")}]: top-1 index ${top}\n${r.output.map((v) => v.toFixed(4)).join(" ")}`;
      });
    }),
  );
  remote(
    pipelines
      .command("stop <id>")
      .description("Stop a pipeline: its devices unload their stages, requests are refused")
      .option("--reason <text>", "why (kept with the pipeline and in the audit log)")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const p = await callApi<PipelineView>(
        await cli.target(o),
        "POST",
        `/api/v1/pipelines/${encodeURIComponent(id)}/stop`,
        o.reason ? { reason: o.reason } : {},
      );
      print(o.json, p, () => formatPipeline(p));
    }),
  );
}
