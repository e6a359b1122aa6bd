// `edgefleet jobs run|list|status|watch|cancel|results`: sharded batch inference over the fleet.
import { createWriteStream } from "node:fs";
import type { JobView } from "@edgefleet/protocol";
import type { Command } from "commander";
import type { ApiTarget } from "./api-client";
import { type Cli, flag, positive, positiveInt, print, remote, run } from "./context";
import {
  cancelJob,
  createJob,
  formatJob,
  formatJobs,
  getJob,
  jobResults,
  listJobs,
  watchJob,
} from "./jobs";
import { parseLabelList } from "./labels";
import { createProgress } from "./progress";

const dimsList = flag((v) =>
  v.split(",").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1)
      throw new Error("--sample-dims must be integers >= 1, e.g. 784 or 3,32,32");
    return n;
  }),
);

/**
 * A job with parked shards exits 2: it completed, but not every input has an answer; so does one
 * cancelled while being followed.
 */
const exitFor = (v: JobView) => {
  if (v.shards.parked > 0 || v.state === "cancelled") process.exitCode = 2;
};

export function addJobCommands(program: Command, cli: Cli): void {
  const jobs = program.command("jobs").description("Sharded batch inference over the fleet");

  remote(
    jobs
      .command("run")
      .description(
        "Cut a dataset into shards that the selected devices pull and run, and follow it",
      )
      .requiredOption("--variant <id|assigned>", "a variant id, or `assigned` (each device's own)")
      .option(
        "--dataset <mnist|file>",
        "mnist (10,000 labelled digits) or a file of float32 samples",
        "mnist",
      )
      .option("--sample-dims <d,...>", "dims of one sample in a dataset file, e.g. 784", dimsList)
      .option("--limit <n>", "only the first n inputs", positiveInt("--limit"))
      .requiredOption("--shard-size <n>", "inputs per shard", positiveInt("--shard-size"))
      .option("--labels <k=v,...>", "only devices with these labels", flag(parseLabelList))
      .option("--device-class <name>", "only devices of this class")
      .option("--devices <id,...>", "only these devices", (v) => v.split(","))
      .option(
        "--ack-wait <seconds>",
        "a device holding a shard longer loses it (default 30)",
        positive("--ack-wait"),
      )
      .option(
        "--max-attempts <n>",
        "attempts before a shard is parked (default 3)",
        positiveInt("--max-attempts"),
      )
      .option("--name <name>", "a name for people")
      .option("--no-watch", "return once created")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (o) => {
      const target = await cli.target(o);
      let view = await createJob(target, {
        name: o.name,
        variant: o.variant,
        dataset: o.dataset,
        sampleDims: o.sampleDims,
        limit: o.limit,
        shardSize: o.shardSize,
        labels: o.labels,
        deviceClass: o.deviceClass,
        devices: o.devices,
        ackWait: o.ackWait,
        maxAttempts: o.maxAttempts,
      });
      if (o.watch) view = await follow(target, view.id, o.json === true);
      print(o.json, view, () => formatJob(view));
      exitFor(view);
    }),
  );

  remote(jobs.command("list").description("Recent jobs").option("--json", "print JSON")).action(
    run(cli, async (o) => {
      const list = await listJobs(await cli.target(o));
      print(o.json, list, () => formatJobs(list));
    }),
  );

  remote(
    jobs
      .command("status")
      .description("A job's shards, accuracy and throughput per device class")
      .argument("<id>")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const v = await getJob(await cli.target(o), id);
      print(o.json, v, () => formatJob(v));
    }),
  );

  remote(
    jobs
      .command("watch")
      .description("Follow a job live (progress bar) until it completes")
      .argument("<id>")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const v = await follow(await cli.target(o), id, o.json === true);
      print(o.json, v, () => formatJob(v));
      exitFor(v);
    }),
  );

  remote(
    jobs
      .command("cancel")
      .description("Cancel a running job: its pending shards are not handed out any more")
      .argument("<id>")
      .option("--reason <text>", "why (kept with the job and in the audit log)")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const v = await cancelJob(await cli.target(o), id, o.reason);
      print(o.json, v, () => formatJob(v));
    }),
  );

  remote(
    jobs
      .command("results")
      .description(
        "Per input, in dataset order: predicted class and label (--json: one JSON line per input, with scores)",
      )
      .argument("<id>")
      .option("--from <n>", "first input", (v) => Number(v), 0)
      .option("--limit <n>", "inputs at most (default: all done so far)", positiveInt("--limit"))
      .option("--out <file>", "write to a file instead of stdout")
      .option("--json", "JSON lines: input, shard, argmax, scores, label"),
  ).action(
    run(cli, async (id: string, o) => {
      const target = await cli.target(o);
      const out = o.out ? createWriteStream(o.out) : process.stdout;
      let left = o.limit ?? Number.POSITIVE_INFINITY;
      const missing = new Set<number>();
      for (let from: number | null = o.from; from !== null && left > 0; ) {
        const page = await jobResults(target, id, from, Math.min(5000, left));
        for (const r of page.rows) {
          out.write(
            o.json
              ? `${JSON.stringify(r)}\n`
              : `input ${r.input}  shard ${r.shard}  class ${r.argmax}${r.label === null ? "" : `  label ${r.label}`}\n`,
          );
        }
        for (const m of page.missingShards) missing.add(m);
        left -= page.rows.length;
        from = page.rows.length === 0 ? null : page.next;
      }
      if (out !== process.stdout)
        await new Promise((r) => (out as ReturnType<typeof createWriteStream>).end(r));
      if (missing.size) {
        process.stderr.write(
          `shards without results (pending or parked): ${[...missing].join(", ")}\n`,
        );
      }
    }),
  );
}

/** A progress bar of settled shards on stderr (a terminal, not --json) until the job completes. */
async function follow(target: ApiTarget, id: string, json: boolean): Promise<JobView> {
  const progress = createProgress(process.stderr.isTTY === true && !json);
  try {
    return await watchJob(target, id, (v) =>
      progress.update(`job ${v.name}: shards`, v.shards.done + v.shards.parked, v.shards.total),
    );
  } finally {
    progress.stop();
  }
}
