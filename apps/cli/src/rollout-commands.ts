// `edgefleet rollout create|list|status|targets|watch|start|pause|resume|abort|rollback` and
// `edgefleet canary`.
import type { RolloutControlAction, RolloutView } from "@edgefleet/protocol/rest";
import type { Command } from "commander";
import type { ApiTarget } from "./api-client";
import { type Cli, flag, positive, positiveInt, print, remote, run } from "./context";
import { parseLabelList } from "./labels";
import {
  buildMnistCanary,
  controlRollout,
  createRollout,
  formatDryRun,
  formatRollout,
  formatRollouts,
  formatTargets,
  getRollout,
  listRollouts,
  rolloutTargets,
  watchRollout,
} from "./rollout";

const share = (name: string) =>
  flag((v) => {
    const n = Number(v);
    if (!(n > 0 && n <= 1)) throw new Error(`${name} must be in (0, 1]`);
    return n;
  });
const nonNegative = (name: string) =>
  flag((v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0`);
    return n;
  });

/** A rollout that ended badly exits 2, so scripts can tell it from success and from errors. */
const ENDED_BADLY = new Set(["halted", "rolled_back"]);

export function addRolloutCommands(program: Command, cli: Cli): void {
  const rollout = program
    .command("rollout")
    .description("Roll a model out to a fleet in waves, with health gates");

  remote(
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
      .option("--labels <k=v,...>", "only devices with these labels", flag(parseLabelList))
      .option("--device-class <name>", "only devices of this class")
      .option("--waves <list>", "cumulative wave sizes, e.g. 1%,10%,50%,100% or 1,10,100%", (v) =>
        v.split(","),
      )
      .option(
        "--bake <seconds>",
        "time each wave runs before its gates may pass it (default 60)",
        nonNegative("--bake"),
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
        nonNegative("--canary-budget"),
      )
      .option("--dry-run", "show the plan per wave; store and move nothing")
      .option("--start", "start it right away")
      .option("--watch", "follow it until it ends")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (o) => {
      const target = await cli.target(o);
      const created = await createRollout(target, { ...o, dryRun: o.dryRun === true });
      if ("dryRun" in created) {
        print(o.json, created, () => formatDryRun(created));
        return;
      }
      let view: RolloutView = created;
      if (o.start) view = await controlRollout(target, view.id, "start");
      if (o.watch) view = await follow(target, view.id, o.json === true);
      // With --watch --json every change went out as a JSON line already, the last included.
      if (!(o.watch && o.json)) print(o.json, view, () => formatRollout(view));
      if (ENDED_BADLY.has(view.state)) process.exitCode = 2;
    }),
  );

  remote(
    rollout.command("list").description("Every rollout").option("--json", "print JSON"),
  ).action(
    run(cli, async (o) => {
      const list = await listRollouts(await cli.target(o));
      print(o.json, list, () => formatRollouts(list));
    }),
  );

  remote(
    rollout
      .command("status")
      .description("A rollout's waves and gates")
      .argument("<id>")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const v = await getRollout(await cli.target(o), id);
      print(o.json, v, () => formatRollout(v));
    }),
  );

  remote(
    rollout
      .command("targets")
      .description("Each device of a rollout: wave, planned variant, state, reasons")
      .argument("<id>")
      .option("--wave <n>", "only this wave", positiveInt("--wave"))
      .option("--state <state>", "only devices in this state (pending, applied, failed, ...)")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const t = await rolloutTargets(await cli.target(o), id, { wave: o.wave, state: o.state });
      print(o.json, t, () => formatTargets(t));
    }),
  );

  remote(
    rollout
      .command("watch")
      .description("Follow a rollout live until it completes, halts or is stopped")
      .argument("<id>")
      .option("--json", "one JSON line per change"),
  ).action(
    run(cli, async (id: string, o) => {
      const v = await follow(await cli.target(o), id, o.json === true);
      if (!o.json) process.stdout.write(`${formatRollout(v)}\n`);
      if (ENDED_BADLY.has(v.state)) process.exitCode = 2;
    }),
  );

  const actions: RolloutControlAction[] = ["start", "pause", "resume", "abort", "rollback"];
  for (const action of actions) {
    remote(
      rollout
        .command(action)
        .description(
          `${action[0].toUpperCase()}${action.slice(1)} a rollout (audited with your reason)`,
        )
        .argument("<id>")
        .option("--reason <text>", "why, for the audit log")
        .option("--json", "print JSON"),
    ).action(
      run(cli, async (id: string, o) => {
        const v = await controlRollout(await cli.target(o), id, action, o.reason ?? "");
        print(o.json, v, () => formatRollout(v));
      }),
    );
  }

  program
    .command("canary")
    .description(
      "Write an EFCS canary set of labelled MNIST test digits for `rollout create --canary`",
    )
    .requiredOption("--out <file>", "where to write it")
    .option("--samples <n>", "how many digits (default 200)", positiveInt("--samples"), 200)
    .option("--json", "print {out, samples} as JSON")
    .action(
      run(cli, async (o) => {
        await buildMnistCanary(o.out, o.samples);
        print(o.json, { out: o.out, samples: o.samples }, () => {
          return `wrote ${o.out}: ${o.samples} MNIST digits with labels`;
        });
      }),
    );
}

/** Live on a terminal (redrawn in place on stderr), one JSON line per change with --json. */
async function follow(target: ApiTarget, id: string, json: boolean) {
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
