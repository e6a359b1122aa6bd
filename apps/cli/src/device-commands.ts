// `edgefleet devices list|show|label|assign`.
import { type Command, Option } from "commander";
import { assign, formatDeployment } from "./assign";
import { type Cli, collect, flag, positive, positiveInt, print, remote, run } from "./context";
import {
  type DeviceFilter,
  decommissionDevice,
  formatDecommission,
  formatDeviceShow,
  formatDevices,
  isFiltered,
  listAll,
  listPage,
  patchLabels,
  showDevice,
} from "./devices";
import { formatLabels, labelPatch, parsePair } from "./labels";
import { createProgress } from "./progress";

export function addDeviceCommands(program: Command, cli: Cli): void {
  const devices = program
    .command("devices")
    .description("The fleet: list, inspect, label and assign devices");

  remote(
    // The default, so the older `edgefleet devices` still lists.
    devices
      .command("list", { isDefault: true })
      .description("Devices with class, status, labels, desired variant and reported state")
      .addOption(
        new Option("--status <status>", "only devices in this state").choices([
          "enrolled",
          "online",
          "offline",
          "decommissioned",
        ]),
      )
      .option("--class <name>", "only devices of this class (rpi4, x86-gateway, ...)")
      .option(
        "--label <key=value>",
        "only devices with this label (repeat: all must match)",
        collect,
      )
      .option("--limit <n>", "page size, 1..500 (default 50)", positiveInt("--limit"))
      .option("--cursor <cursor>", "the page after this one (nextCursor of the previous page)")
      .option("--all", "every page, following the cursor")
      .option("--json", "print {items, total, nextCursor} as JSON"),
  ).action(
    run(cli, async (o) => {
      const target = await cli.target(o);
      const filter: DeviceFilter = {
        status: o.status,
        deviceClass: o.class,
        labels: Object.fromEntries(
          ((o.label as string[] | undefined) ?? []).map((l) => parsePair(l, "--label")),
        ),
      };
      if (o.all && o.cursor) throw new Error("--all and --cursor: pick one");
      if (o.limit > 500) throw new Error("--limit: at most 500 devices per page");
      let page: Awaited<ReturnType<typeof listAll>>;
      if (o.all) {
        const progress = createProgress(process.stderr.isTTY === true && !o.json);
        page = await listAll(target, filter, (done, total) =>
          progress.update("devices", done, total),
        );
        progress.stop();
      } else {
        page = await listPage(target, filter, o.limit ?? 50, o.cursor);
      }
      print(o.json, page, () => formatDevices(page, isFiltered(filter)));
      if (!o.json && page.nextCursor) {
        process.stderr.write(
          `${page.items.length} of ${page.total} devices; next page: --cursor ${page.nextCursor} (or --all)\n`,
        );
      }
    }),
  );

  remote(
    devices
      .command("show")
      .description(
        "One device: facts, profile, desired vs reported, recent latency, re-targeting history",
      )
      .argument("<id>", "device id")
      .option("--json", "print {device, profile, telemetry, retargets, variantNames} as JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const s = await showDevice(await cli.target(o), id);
      print(o.json, s, () => formatDeviceShow(s));
    }),
  );

  remote(
    devices
      .command("label")
      .description("Set and remove a device's labels (others stay): label <id> k=v ... --remove k")
      .argument("<id>", "device id")
      .argument("[key=value...]", "labels to set (a value may be empty: k=)")
      .option("--remove <key>", "a label to remove (repeatable)", collect)
      .option("--json", "print the device as JSON"),
  ).action(
    run(cli, async (id: string, pairs: string[], o) => {
      const patch = labelPatch(pairs, o.remove ?? []);
      const d = await patchLabels(await cli.target(o), id, patch);
      print(o.json, d, () => `${d.name} (${d.id}): ${formatLabels(d.labels)}`);
    }),
  );

  remote(
    devices
      .command("decommission")
      .description(
        "Retire a device for good (admin): revoke its key, drop its connection, clear its assignment",
      )
      .argument("<id>", "device id")
      .option("--json", "print {device, changed, skippedTargets, revocationPushed} as JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const v = await decommissionDevice(await cli.target(o), id);
      print(o.json, v, () => formatDecommission(v));
    }),
  );

  assignCommand(cli, remote(devices.command("assign").argument("<id>", "device id")));
  // The older spelling, `edgefleet assign --device <id>`: kept working, out of help and completion.
  assignCommand(
    cli,
    remote(
      program
        .command("assign", { hidden: true })
        .requiredOption("--device <id>", "device id (now: devices assign <id>)"),
    ),
  );
}

function assignCommand(cli: Cli, cmd: Command): void {
  cmd
    .description(
      "Set what one device runs (its desired state) and wait until it reports applied or failed",
    )
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
      flag((v) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 0) throw new Error("--wait must be a number >= 0");
        return n;
      }),
      60,
    )
    .option("--json", "print the deployment as JSON")
    .action(
      run(cli, async (...args: unknown[]) => {
        // `devices assign <id> [options]` or the older `assign --device <id>`.
        const o = (typeof args[0] === "string" ? args[1] : args[0]) as Record<string, never>;
        const device = typeof args[0] === "string" ? args[0] : (o.device as string);
        const tty = process.stderr.isTTY === true && !o.json;
        const d = await assign(
          await cli.target(o),
          {
            device,
            model: o.model,
            variant: o.variant,
            maxBatch: o.maxBatch,
            waitMs: (o.wait as number) * 1000,
          },
          (u) => {
            if (tty) process.stderr.write(`\r\x1b[K${formatDeployment(u)}`);
          },
        );
        if (tty) process.stderr.write("\n");
        print(o.json, d, () => formatDeployment(d));
        // Exit 2 unless the device reported this generation applied: failed, rolled back, or
        // silent for the whole --wait.
        const generation = d.desired?.generation ?? 0;
        const r = d.reported;
        if (!r || r.generation < generation || r.phase === "applying") {
          process.stderr.write(
            `device ${device} did not report generation ${generation} within ${o.wait} s\n`,
          );
          process.exitCode = 2;
        } else if (r.phase !== "applied") {
          process.exitCode = 2;
        }
      }),
    );
}
