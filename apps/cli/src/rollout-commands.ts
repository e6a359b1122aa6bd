// `edgefleet rollout create|status|watch|start|pause|resume|abort|rollback` and `edgefleet canary`.
import { type Command, InvalidArgumentError } from "commander";
import { resolveTarget } from "./api-client";
import {
  buildMnistCanary,
  controlRollout,
  createRollout,
  formatRollout,
  getRollout,
  type RolloutView,
  watchRollout,
} from "./rollout";

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number > 0`);
  return n;
};
const share = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`${name} must be in (0, 1]`);
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

export function addRolloutCommands(
  program: Command,
  connection: (cmd: Command) => Command,
  fail: (err: unknown) => never,
): void {
  const rollout = program
    .command("rollout")
    .description("Roll a model out to a fleet in waves, with health gates");

  connection(
    rollout
      .command("create")
      .description(
        "Plan a model over the fleet in waves (start it with `rollout start`, or pass --start)",
      )
      .requiredOption("--model <id>", "model id")
      .requiredOption(
        "--slo <ms>",
        "latency SLO in ms (the latency gate holds p95 to it)",
        positive("--slo"),
      )
      .option("--name <name>", "a name for people")
      .option("--labels <k=v,...>", "only devices with these labels", labels)
      .option("--device-class <name>", "only devices of this class")
      .option("--waves <list>", "cumulative wave sizes, e.g. 1%,10%,50%,100% or 1,10,100%", (v) =>
        v.split(","),
      )
      .option(
        "--bake <seconds>",
        "time each wave runs before its gates may pass it (default 60)",
        Number,
      )
      .option("--rate <n>", "assignments per second at most (default 1000)", positive("--rate"))
      .option(
        "--shadow <share>",
        "shadow mode: compare with the previous variant on this share of requests",
        share("--shadow"),
      )
      .option("--canary <file>", "an EFCS canary set (edgefleet canary) the devices evaluate")
      .option(
        "--canary-budget <points>",
        "largest canary accuracy drop vs compression (default 2)",
        Number,
      )
      .option("--dry-run", "show the plan per wave; store and move nothing")
      .option("--start", "start it right away")
      .option("--watch", "follow it until it ends")
      .option("--json", "print JSON"),
  ).action(async (o) => {
    try {
      const target = await resolveTarget(o);
      const created = await createRollout(target, { ...o, dryRun: o.dryRun === true });
      if (o.dryRun) {
        process.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
        return;
      }
      let view: RolloutView = created;
      if (o.start) view = await controlRollout(target, view.id, "start");
      if (o.watch) view = await follow(target, view.id, o.json === true);
      process.stdout.write(`${o.json ? JSON.stringify(view, null, 2) : formatRollout(view)}\n`);
      if (view.state === "halted" || view.state === "rolled_back") process.exitCode = 2;
    } catch (err) {
      fail(err);
    }
  });

  connection(
    rollout
      .command("status")
      .description("A rollout's waves and gates")
      .argument("<id>")
      .option("--json", "print JSON"),
  ).action(async (id: string, o) => {
    try {
      const v = await getRollout(await resolveTarget(o), id);
      process.stdout.write(`${o.json ? JSON.stringify(v, null, 2) : formatRollout(v)}\n`);
    } catch (err) {
      fail(err);
    }
  });

  connection(
    rollout
      .command("watch")
      .description("Follow a rollout live until it completes, halts or is stopped")
      .argument("<id>")
      .option("--json", "one JSON line per change"),
  ).action(async (id: string, o) => {
    try {
      const v = await follow(await resolveTarget(o), id, o.json === true);
      if (!o.json) process.stdout.write(`${formatRollout(v)}\n`);
      if (v.state === "halted" || v.state === "rolled_back") process.exitCode = 2;
    } catch (err) {
      fail(err);
    }
  });

  for (const action of ["start", "pause", "resume", "abort", "rollback"] as const) {
    connection(
      rollout
        .command(action)
        .description(
          `${action[0].toUpperCase()}${action.slice(1)} a rollout (audited with your reason)`,
        )
        .argument("<id>")
        .option("--reason <text>", "why, for the audit log")
        .option("--json", "print JSON"),
    ).action(async (id: string, o) => {
      try {
        const v = await controlRollout(await resolveTarget(o), id, action, o.reason ?? "");
        process.stdout.write(`${o.json ? JSON.stringify(v, null, 2) : formatRollout(v)}\n`);
      } catch (err) {
        fail(err);
      }
    });
  }

  program
    .command("canary")
    .description(
      "Write an EFCS canary set of labelled MNIST test digits for `rollout create --canary`",
    )
    .requiredOption("--out <file>", "where to write it")
    .option("--samples <n>", "how many digits (default 200)", positive("--samples"), 200)
    .action(async (o) => {
      try {
        await buildMnistCanary(o.out, o.samples);
        process.stdout.write(`wrote ${o.out}: ${o.samples} MNIST digits with labels\n`);
      } catch (err) {
        fail(err);
      }
    });
}

/** Live on a terminal (redrawn in place), one JSON line per change otherwise. */
async function follow(target: Parameters<typeof getRollout>[0], id: string, json: boolean) {
  const tty = process.stderr.isTTY === true && !json;
  let drawn = 0;
  return watchRollout(target, id, (v) => {
    if (json) {
      process.stdout.write(`${JSON.stringify(v)}\n`);
      return;
    }
    if (!tty) return;
    const text = formatRollout(v);
    if (drawn) process.stderr.write(`\x1b[${drawn}A\x1b[0J`);
    process.stderr.write(`${text}\n`);
    drawn = text.split("\n").length;
  });
}
