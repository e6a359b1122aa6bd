// Commands that talk to a running control plane: models, plans, measurements, telemetry,
// enrollment tokens (devices and rollouts have their own files).
import { type Command, Option } from "commander";
import { deviceTelemetry, formatTelemetry } from "./assign";
import { type Cli, flag, positive, positiveInt, print, remote, run } from "./context";
import { addDeviceCommands } from "./device-commands";
import { addJobCommands } from "./job-commands";
import { parseDuration, parseLabelList } from "./labels";
import { formatModel, formatModels, getModel, listModels } from "./model-views";
import { addPipelineCommands } from "./pipeline-commands";
import { createPlan, formatPlan } from "./plan";
import { createProgress } from "./progress";
import { addRolloutCommands } from "./rollout-commands";
import { followTelemetry } from "./telemetry-follow";
import { agentCommand, createEnrollmentToken, defaultGrpcAddress, formatToken } from "./tokens";

export function addFleetCommands(program: Command, cli: Cli): void {
  addDeviceCommands(program, cli);
  addModelCommands(program, cli);
  addTokenCommands(program, cli);
  addPipelineCommands(program, cli);

  remote(
    program
      .command("plan")
      .description("Dry-run: which variant each device would get, and why")
      .requiredOption("--model <id>", "model id (see edgefleet models list)")
      .requiredOption("--slo <ms>", "latency SLO in ms at the given batch", positive("--slo"))
      .option("--batch <n>", "batch the rollout runs at", positive("--batch"))
      .option(
        "--accuracy-floor <0..1>",
        "lowest acceptable accuracy",
        flag((v) => {
          const n = Number(v);
          if (!(n >= 0 && n <= 1)) throw new Error("--accuracy-floor must be in [0, 1]");
          return n;
        }),
      )
      .addOption(
        new Option("--objective <name>", "what to maximise among the variants that fit").choices([
          "max-accuracy",
          "min-latency",
          "min-bytes",
        ]),
      )
      .option("--labels <k=v,...>", "only devices with these labels", flag(parseLabelList))
      .option("--device-class <name>", "only devices of this (simulated) class")
      .option("--json", "print the plan as JSON"),
  ).action(
    run(cli, async (o) => {
      const plan = await createPlan(await cli.target(o), {
        model: o.model,
        slo: o.slo,
        batch: o.batch,
        accuracyFloor: o.accuracyFloor,
        objective: o.objective,
        labels: o.labels,
        deviceClass: o.deviceClass,
      });
      print(o.json, plan, () => formatPlan(plan));
    }),
  );

  remote(
    program
      .command("measure")
      .description(
        "Run one catalogue variant on one device; the latency feeds the planner's correction",
      )
      .requiredOption("--device <id>", "device id")
      .requiredOption("--model <id>", "model id")
      .requiredOption("--variant <name>", "variant name, e.g. int8-static-minmax")
      .requiredOption("--catalogue <dir>", "the edgefleet compress output holding the artifact")
      .option("--batch <n>", "also measure at this batch", positive("--batch"))
      .option("--json", "print the measurement as JSON"),
  ).action(
    run(cli, async (o) => {
      const { formatMeasure, measure } = await import("./measure");
      const r = await measure(await cli.target(o), o);
      print(o.json, r, () => formatMeasure(o, r));
    }),
  );

  remote(
    program
      .command("telemetry")
      .description(
        "Field latency and load: a device's rollups, or --follow for live latency per device or class",
      )
      .option("--device <id>", "the device (required without --follow; with it, only this one)")
      .option("--minutes <n>", "how far back (without --follow)", positive("--minutes"), 60)
      .option("--follow", "live, from the WebSocket stream's device.telemetry events")
      .addOption(
        new Option("--by <what>", "with --follow: one row per device or per device class")
          .choices(["device", "class"])
          .default("device"),
      )
      .option("--class <name>", "with --follow: only devices of this class")
      .option(
        "--interval <seconds>",
        "with --follow: redraw every n seconds",
        positive("--interval"),
        2,
      )
      .option(
        "--duration <seconds>",
        "with --follow: stop after n seconds (default: Ctrl-C)",
        positive("--duration"),
      )
      .option("--json", "print JSON (with --follow: one event per line)"),
  ).action(
    run(cli, async (o) => {
      const target = await cli.target(o);
      if (o.follow) {
        await followTelemetry(target, {
          deviceIds: o.device ? [o.device] : undefined,
          deviceClass: o.class,
          by: o.by,
          intervalMs: o.interval * 1000,
          durationMs: o.duration === undefined ? undefined : o.duration * 1000,
          json: o.json === true,
        });
        return;
      }
      if (!o.device) throw new Error("--device <id> is required (or --follow for the fleet)");
      const t = await deviceTelemetry(target, o.device, o.minutes);
      print(o.json, t, () => formatTelemetry(o.device, t));
    }),
  );

  addRolloutCommands(program, cli);
  addJobCommands(program, cli);
}

function addModelCommands(program: Command, cli: Cli): void {
  const models = program.command("models").description("Model catalogues in the control plane");
  remote(
    models
      .command("import")
      .description(
        "Register a catalogue written by `edgefleet compress` (variant costs are read off the graphs ONNX Runtime runs)",
      )
      .argument("<dir>", "the --out directory of edgefleet compress")
      .requiredOption("--name <name>", "model name, e.g. mnist-mlp")
      .requiredOption("--version <version>", "model version, e.g. 1")
      .option("--all", "also register variants that broke the catalogue's constraints")
      .option("--json", "print the model and its variants as JSON"),
  ).action(
    run(cli, async (dir: string, o) => {
      const target = await cli.target(o);
      const { importModel } = await import("./models");
      const res = await importModel(
        target,
        { dir, name: o.name, version: o.version, all: o.all === true },
        createProgress(process.stderr.isTTY === true && !o.json),
      );
      print(o.json, res, () =>
        [
          `model ${res.model.id}: ${res.variants.length} variants`,
          ...res.variants.map((v) => `  ${v.id}  ${v.name}`),
        ].join("\n"),
      );
    }),
  );

  remote(models.command("list").description("Every model").option("--json", "print JSON")).action(
    run(cli, async (o) => {
      const list = await listModels(await cli.target(o));
      print(o.json, list, () => formatModels(list));
    }),
  );

  remote(
    models
      .command("show")
      .description("A model's variants with their recipes' measured facts")
      .argument("<id>", "model id")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const m = await getModel(await cli.target(o), id);
      print(o.json, m, () => formatModel(m));
    }),
  );
}

function addTokenCommands(program: Command, cli: Cli): void {
  const tokens = program.command("tokens").description("Enrollment tokens for new devices");
  remote(
    tokens
      .command("create")
      .description("A token agents enroll with (admin role); shown once, with the agent command")
      .option("--label <text>", "what the token is for (default enrollment)")
      .option(
        "--ttl <duration>",
        "lifetime: seconds, or 30m, 12h, 7d (1 minute to 30 days; default 1h)",
        flag((v) => parseDuration(v, "--ttl")),
      )
      .option(
        "--max-uses <n>",
        "how many devices may enroll with it (default 1)",
        positiveInt("--max-uses"),
      )
      .option(
        "--grpc <host:port>",
        "the control plane's gRPC address as agents reach it (default: the URL's host, port 50051)",
      )
      .option("--json", "print {id, token, label, expiresAt, maxUses, agentCommand} as JSON"),
  ).action(
    run(cli, async (o) => {
      const target = await cli.target(o);
      const t = await createEnrollmentToken(target, {
        label: o.label,
        ttlSeconds: o.ttl,
        maxUses: o.maxUses,
      });
      const command = agentCommand(t.token, o.grpc ?? defaultGrpcAddress(target.url));
      print(o.json, { ...t, agentCommand: command }, () => formatToken(t, command));
    }),
  );
}
