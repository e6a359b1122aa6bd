// The `edgefleet` command tree. main.ts reads the environment and runs it; tests and
// `edgefleet completion` walk it.

import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { DevicePageView } from "@edgefleet/protocol/rest";
import { Argument, Command, InvalidArgumentError } from "commander";
import { addAccessCommands } from "./access-commands";
import { callApi } from "./api-client";
import { addCalibrateCommand } from "./calibrate-commands";
import { bashScript, commandSpec, zshScript } from "./completion";
import { checkUrl, configPath } from "./config";
import { type Cli, print, run } from "./context";
import { addFleetCommands } from "./fleet-commands";
import { createProgress } from "./progress";

const number = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number >= 0`);
  return n;
};
const integer = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`${name} must be an integer >= 1`);
  return n;
};
const list = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
const dims = (v: string) => list(v).map(integer("--input-shape"));

export function buildProgram(cli: Cli): Command {
  const program = new Command("edgefleet")
    .description("Edgefleet operator CLI")
    // Commander's own errors (a missing option, an unknown command) in the CLI's one-line form.
    .configureOutput({ outputError: (str, write) => write(`edgefleet: ${str}`) });
  const cmd = program
    .command("compress")
    .description(
      "Build a catalogue of compressed variants (quantized, pruned, distilled) of a model, measure each in ONNX Runtime, mark the Pareto front and write artifacts + catalogue.json",
    )
    .option(
      "--model <onnx|builtin:mnist-mlp>",
      "ONNX file, or builtin:mnist-mlp (LeNet-300-100 trained here on the MNIST split)",
    )
    .option(
      "--data <dataset>",
      'mnist (labelled split: accuracy), synthetic:<n> (n seeded uniform inputs: fidelity only), or a JSON file {"sampleDims":[...],"samples":[[...]]} of calibration inputs (fidelity only)',
    )
    .option("--out <dir>", "output directory (must not exist or be empty); written atomically")
    .option(
      "--max-drop <points>",
      "maximum accuracy drop in percentage points (top-1 disagreement with the base when unlabelled)",
      number("--max-drop"),
      0.5,
    )
    .option(
      "--max-bytes <bytes>",
      "optional cap on the shipped artifact size",
      number("--max-bytes"),
    )
    .option(
      "--max-latency <ms>",
      "optional cap on median batch-1 latency in ms",
      number("--max-latency"),
    )
    .option(
      "--recipes <a,b,...>",
      "recipes to run (default: all that apply); see --list-recipes",
      list,
    )
    .option("--list-recipes", "print the known recipes and exit")
    .option("--epochs <n>", "training epochs of the built-in base model", integer("--epochs"), 3)
    .option("--seed <n>", "seed for training, pruning and distillation", integer("--seed"), 1)
    .option(
      "--calibration-samples <n>",
      "calibration inputs (also used for fidelity and latency)",
      integer("--calibration-samples"),
      500,
    )
    .option(
      "--test-samples <n>",
      "labelled held-out samples used for accuracy",
      integer("--test-samples"),
      2000,
    )
    .option(
      "--latency-iterations <n>",
      "timed runs per latency figure (best and median reported)",
      integer("--latency-iterations"),
      30,
    )
    .option(
      "--input-shape <d1,d2,...>",
      "per-sample input dims for models with dynamic dims (e.g. 3,48,320)",
      dims,
    )
    .option(
      "--probabilities",
      "the model's first output is already a softmax (fidelity KL uses it as is)",
    )
    .option("--json", "print catalogue.json to stdout instead of the table")
    .action(
      run(cli, async (o) => {
        if (o.listRecipes) return listRecipes(o.json === true);
        for (const req of ["model", "data", "out"]) {
          if (!o[req]) throw new InvalidArgumentError(`--${req} is required`);
        }
        await runCompress(o);
      }),
    );
  cmd
    .command("unpack")
    .description(
      "Turn a shipped artifact (packed .efpk or plain ONNX) into the ONNX model a device runs",
    )
    .argument("<file>", "shipped artifact")
    .argument("<out.onnx>", "where to write the ONNX model (atomic)")
    .option("--json", "print {out, bytes, packed} as JSON")
    .action(
      run(cli, async (file: string, out: string, o) => {
        const { unpack } = await import("./unpack");
        const r = await unpack(file, out);
        print(o.json, { out, ...r }, () => {
          return `${out}: ${r.bytes} bytes${r.packed ? " (unpacked)" : " (was already ONNX)"}`;
        });
      }),
    );
  addLoginCommand(program, cli);
  addFleetCommands(program, cli);
  addAccessCommands(program, cli);
  addCalibrateCommand(program, cli);
  addCompletionCommand(program, cli);
  return program;
}

async function listRecipes(json: boolean): Promise<void> {
  const { ALL_RECIPES } = await import("@edgefleet/compression");
  if (json) {
    const recipes = ALL_RECIPES.map((r) => ({
      id: r.id,
      requires: r.requires,
      description: r.description,
    }));
    process.stdout.write(`${JSON.stringify(recipes, null, 2)}\n`);
    return;
  }
  for (const r of ALL_RECIPES)
    process.stdout.write(`${r.id.padEnd(28)} ${r.requires.padEnd(9)} ${r.description}\n`);
}

async function runCompress(o: Record<string, unknown>): Promise<void> {
  const { compress } = await import("./compress");
  const { formatTable } = await import("./table");
  const progress = createProgress(process.stderr.isTTY === true);
  const opts: import("./compress").CompressOptions = {
    model: o.model as string,
    data: o.data as string,
    out: o.out as string,
    maxDrop: o.maxDrop as number,
    maxBytes: o.maxBytes as number | undefined,
    maxLatencyMs: o.maxLatency as number | undefined,
    recipes: o.recipes as string[] | undefined,
    epochs: o.epochs as number,
    seed: o.seed as number,
    calibrationSamples: o.calibrationSamples as number,
    testSamples: o.testSamples as number,
    latencyIterations: o.latencyIterations as number,
    inputShape: o.inputShape as number[] | undefined,
    outputsAreProbabilities: o.probabilities === true,
  };
  const quiet = o.json === true || process.stderr.isTTY === true;
  try {
    const catalogue = await compress(opts, progress, (e) => {
      if (!quiet)
        process.stderr.write(`variant ${e.id}: ${e.status}${e.error ? ` (${e.error})` : ""}\n`);
    });
    progress.stop();
    if (o.json) process.stdout.write(`${JSON.stringify(catalogue, null, 2)}\n`);
    else process.stdout.write(`${formatTable(catalogue)}\n\nwrote ${opts.out}/catalogue.json\n`);
  } finally {
    progress.stop();
  }
}

function addLoginCommand(program: Command, cli: Cli): void {
  program
    .command("login")
    .description(
      "Check a control plane URL and API token, and save them to the config file (mode 0600)",
    )
    .requiredOption("--url <url>", "control plane REST URL, e.g. http://127.0.0.1:8080")
    .requiredOption("--token <token>", "API token (npm start prints where its admin token is)")
    .option("--json", "print {url, config, devices} as JSON")
    .action(
      run(cli, async (o) => {
        const url = checkUrl(o.url);
        const page = await callApi<DevicePageView>(
          { url, token: o.token },
          "GET",
          "/api/v1/devices?limit=1",
        );
        const path = configPath(cli.env);
        await mkdir(dirname(path), { recursive: true, mode: 0o700 });
        // The shared writer: temp file, fsync, rename; owner-only from the first byte.
        const { writeFileAtomic } = await import("@edgefleet/bus");
        await writeFileAtomic(path, `${JSON.stringify({ url, token: o.token }, null, 2)}\n`, 0o600);
        print(o.json, { url, config: path, devices: page.total }, () => {
          return `logged in to ${url} (${page.total} devices); saved to ${path}`;
        });
      }),
    );
}

function addCompletionCommand(program: Command, cli: Cli): void {
  program
    .command("completion")
    .description(
      "Print a shell completion script: source <(edgefleet completion bash), or zsh likewise",
    )
    .addArgument(new Argument("<shell>", "bash or zsh").choices(["bash", "zsh"]))
    .option("--json", "print the command tree the script is generated from, as JSON")
    .action(
      run(cli, async (shell: "bash" | "zsh", o) => {
        const spec = commandSpec(program);
        print(o.json, spec, () =>
          (shell === "bash" ? bashScript(spec) : zshScript(spec)).trimEnd(),
        );
      }),
    );
}
