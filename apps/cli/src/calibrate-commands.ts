// `edgefleet calibrate <model> --devices ...`: federated calibration (raw data stays on devices).
import type { Command } from "commander";
import {
  calibrationProgress,
  formatCalibration,
  resolveDevices,
  startCalibration,
  watchCalibration,
} from "./calibrate";
import { type Cli, positive, positiveInt, print, remote, run } from "./context";
import { createProgress } from "./progress";

export function addCalibrateCommand(program: Command, cli: Cli): void {
  remote(
    program
      .command("calibrate")
      .description(
        "Calibrate an int8 static variant from devices' activation statistics (their data stays on them)",
      )
      .argument("<model>", "model id")
      .requiredOption("--devices <ids>", "comma-separated device ids, or `online`")
      .option("--variant <id>", "the fp32 variant the devices run (default: the model's fp32)")
      .option("--method <m>", "minmax, percentile or mse (default minmax)")
      .option(
        "--percentile <p>",
        "for --method percentile (default 99.99)",
        positive("--percentile"),
      )
      .option(
        "--bins <n>",
        "histogram bins for percentile/mse (default 2048)",
        positiveInt("--bins"),
      )
      .option(
        "--min-devices <n>",
        "fewest devices a round needs (default: a majority)",
        positiveInt("--min-devices"),
      )
      .option("--timeout <s>", "seconds a device has per round (default 60)", positive("--timeout"))
      .option("--no-wait", "start it and print the run; do not follow it")
      .option("--json", "print JSON"),
  ).action(
    run(cli, async (model: string, o) => {
      const target = await cli.target(o);
      const devices = await resolveDevices(target, o.devices);
      let view = await startCalibration(target, {
        modelId: model,
        devices,
        variant: o.variant,
        method: o.method,
        percentile: o.percentile,
        bins: o.bins,
        minDevices: o.minDevices,
        timeoutS: o.timeout,
      });
      if (o.wait !== false) {
        const progress = createProgress(process.stderr.isTTY === true && !o.json);
        view = await watchCalibration(target, view.id, (v) => {
          const p = calibrationProgress(v);
          progress.update("calibration", p.done, p.total);
        });
        progress.stop();
      }
      print(o.json, view, () => formatCalibration(view));
      if (view.state === "failed") process.exitCode = 2;
    }),
  );
}
