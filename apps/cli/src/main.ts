import { Command, InvalidArgumentError } from "commander";
import { type CompressOptions, compress } from "./compress";
import { addFleetCommands } from "./fleet-commands";
import { createProgress } from "./progress";
import { formatTable } from "./table";
import { unpack } from "./unpack";

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

function fail(err: unknown): never {
  const e = err as Error;
  const msg = e?.message ? e.message.split("\n")[0] : String(err);
  process.stderr.write(`edgefleet: error: ${msg}\n`);
  process.exit(1);
}

export function buildProgram(): Command {
  const program = new Command("edgefleet").description("Edgefleet operator CLI");
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
    .action(async (o) => {
      try {
        if (o.listRecipes) return listRecipes();
        for (const req of ["model", "data", "out"]) {
          if (!o[req]) throw new InvalidArgumentError(`--${req} is required`);
        }
        await runCompress(o);
      } catch (err) {
        fail(err);
      }
    });
  cmd
    .command("unpack")
    .description(
      "Turn a shipped artifact (packed .efpk or plain ONNX) into the ONNX model a device runs",
    )
    .argument("<file>", "shipped artifact")
    .argument("<out.onnx>", "where to write the ONNX model (atomic)")
    .action(async (file: string, out: string) => {
      try {
        const r = await unpack(file, out);
        process.stdout.write(
          `${out}: ${r.bytes} bytes${r.packed ? " (unpacked)" : " (was already ONNX)"}\n`,
        );
      } catch (err) {
        fail(err);
      }
    });
  addFleetCommands(program, fail);
  return program;
}

async function listRecipes(): Promise<void> {
  const { ALL_RECIPES } = await import("@edgefleet/compression");
  for (const r of ALL_RECIPES)
    process.stdout.write(`${r.id.padEnd(28)} ${r.requires.padEnd(9)} ${r.description}\n`);
}

async function runCompress(o: Record<string, unknown>): Promise<void> {
  const progress = createProgress(process.stderr.isTTY === true);
  const opts: CompressOptions = {
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

await buildProgram().parseAsync(process.argv);
