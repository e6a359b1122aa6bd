// Commands that talk to a running control plane: register a catalogue, plan a model.
import { type Command, InvalidArgumentError } from "commander";
import { resolveTarget } from "./api-client";
import {
  assign,
  deviceTelemetry,
  formatDeployment,
  formatDevices,
  formatTelemetry,
  listDevices,
} from "./assign";
import { formatMeasure, measure } from "./measure";
import { importModel } from "./models";
import { createPlan, formatPlan } from "./plan";
import { createProgress } from "./progress";
import { addRolloutCommands } from "./rollout-commands";

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number > 0`);
  return n;
};
const labels = (v: string) => {
  const out: Record<string, string> = {};
  for (const pair of v.split(",").filter(Boolean)) {
    const [k, ...rest] = pair.split("=");
    if (!k || rest.length === 0)
      throw new InvalidArgumentError(`--labels: "${pair}" is not key=value`);
    out[k] = rest.join("=");
  }
  return out;
};

export function addFleetCommands(program: Command, fail: (err: unknown) => never): void {
  const connection = (cmd: Command) =>
    cmd
      .option(
        "--url <url>",
        "control plane REST URL (default EDGEFLEET_URL or http://127.0.0.1:8080)",
      )
      .option(
        "--token <token>",
        "API token (default EDGEFLEET_TOKEN or the local stack's admin token)",
      );

  const models = program.command("models").description("Model catalogues in the control plane");
  connection(
    models
      .command("import")
      .description(
        "Register a catalogue written by `edgefleet compress` (variant costs are read off the graphs ONNX Runtime runs)",
      )
      .argument("<dir>", "the --out directory of edgefleet compress")
      .requiredOption("--name <name>", "model name, e.g. mnist-mlp")
      .requiredOption("--version <version>", "model version, e.g. 1")
      .option("--all", "also register variants that broke the catalogue's constraints"),
  ).action(async (dir: string, o) => {
    try {
      const target = await resolveTarget(o);
      const res = await importModel(
        target,
        { dir, name: o.name, version: o.version, all: o.all === true },
        createProgress(process.stderr.isTTY === true),
      );
      process.stdout.write(`model ${res.model.id}: ${res.variants.length} variants\n`);
      for (const v of res.variants) process.stdout.write(`  ${v.id}  ${v.name}\n`);
    } catch (err) {
      fail(err);
    }
  });

  connection(
    program
      .command("plan")
      .description("Dry-run: which variant each device would get, and why")
      .requiredOption("--model <id>", "model id (see edgefleet models import)")
      .requiredOption("--slo <ms>", "latency SLO in ms at the given batch", positive("--slo"))
      .option("--batch <n>", "batch the rollout runs at", positive("--batch"))
      .option("--accuracy-floor <0..1>", "lowest acceptable accuracy", Number)
      .option("--objective <name>", "max-accuracy (default), min-latency or min-bytes")
      .option("--labels <k=v,...>", "only devices with these labels", labels)
      .option("--device-class <name>", "only devices of this (simulated) class")
      .option("--json", "print the plan as JSON"),
  ).action(async (o) => {
    try {
      const plan = await createPlan(await resolveTarget(o), {
        model: o.model,
        slo: o.slo,
        batch: o.batch,
        accuracyFloor: o.accuracyFloor,
        objective: o.objective,
        labels: o.labels,
        deviceClass: o.deviceClass,
      });
      process.stdout.write(`${o.json ? JSON.stringify(plan, null, 2) : formatPlan(plan)}\n`);
    } catch (err) {
      fail(err);
    }
  });

  connection(
    program
      .command("measure")
      .description(
        "Run one catalogue variant on one device; the latency feeds the planner's correction",
      )
      .requiredOption("--device <id>", "device id")
      .requiredOption("--model <id>", "model id")
      .requiredOption("--variant <name>", "variant name, e.g. int8-static-minmax")
      .requiredOption("--catalogue <dir>", "the edgefleet compress output holding the artifact")
      .option("--batch <n>", "also measure at this batch", positive("--batch")),
  ).action(async (o) => {
    try {
      const r = await measure(await resolveTarget(o), o);
      process.stdout.write(`${formatMeasure(o, r)}\n`);
    } catch (err) {
      fail(err);
    }
  });

  connection(
    program
      .command("devices")
      .description("The fleet: each device's class, status, desired variant and reported state")
      .option("--json", "print as JSON"),
  ).action(async (o) => {
    try {
      const items = await listDevices(await resolveTarget(o));
      process.stdout.write(`${o.json ? JSON.stringify(items, null, 2) : formatDevices(items)}\n`);
    } catch (err) {
      fail(err);
    }
  });

  connection(
    program
      .command("assign")
      .description(
        "Set what one device runs (its desired state) and wait until it reports applied or failed",
      )
      .requiredOption("--device <id>", "device id")
      .option("--model <id>", "model id (with a variant name)")
      .requiredOption("--variant <name|id|none>", "variant name or id; none unloads")
      .option(
        "--max-batch <n>",
        "micro-batch at most n concurrent requests (1: off)",
        positive("--max-batch"),
      )
      .option(
        "--wait <seconds>",
        "how long to wait for the device's report",
        positive("--wait"),
        60,
      )
      .option("--json", "print the deployment as JSON"),
  ).action(async (o) => {
    try {
      const tty = process.stderr.isTTY === true && !o.json;
      const d = await assign(
        await resolveTarget(o),
        {
          device: o.device,
          model: o.model,
          variant: o.variant,
          maxBatch: o.maxBatch,
          waitMs: o.wait * 1000,
        },
        (u) => {
          if (tty) process.stderr.write(`\r\x1b[K${formatDeployment(u)}`);
        },
      );
      if (tty) process.stderr.write("\n");
      process.stdout.write(`${o.json ? JSON.stringify(d, null, 2) : formatDeployment(d)}\n`);
      if (d.reported?.phase === "failed" || d.reported?.phase === "rolled-back")
        process.exitCode = 2;
    } catch (err) {
      fail(err);
    }
  });

  connection(
    program
      .command("telemetry")
      .description("A device's field latency and load, from the control plane's rollups")
      .requiredOption("--device <id>", "device id")
      .option("--minutes <n>", "how far back", positive("--minutes"), 60)
      .option("--json", "print as JSON"),
  ).action(async (o) => {
    try {
      const t = await deviceTelemetry(await resolveTarget(o), o.device, o.minutes);
      process.stdout.write(
        `${o.json ? JSON.stringify(t, null, 2) : formatTelemetry(o.device, t)}\n`,
      );
    } catch (err) {
      fail(err);
    }
  });

  addRolloutCommands(program, connection, fail);
}
